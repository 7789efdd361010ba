import * as v from 'valibot';
import { ACTIONS } from './ratelimit.js';

/** An option's help text rides on its schema (`v.description`), so `--help` and the README table come from here. */
const int = (def: number, min: number, what: string) =>
  v.optional(v.pipe(v.number(), v.integer(), v.minValue(min), v.description(what)), def);
const text = (def: string, what: string) => v.optional(v.pipe(v.string(), v.description(what)), def);
const oneOf = <const T extends readonly [string, ...string[]]>(options: T, def: T[number], what: string) =>
  v.optional(v.pipe(v.picklist(options), v.description(what)), def);

const Bucket = v.object({
  capacity: v.pipe(v.number(), v.integer(), v.minValue(1)),
  per_min: v.pipe(v.number(), v.minValue(0)),
});
export const BucketSchema = Bucket;
export type BucketLimit = v.InferOutput<typeof Bucket>;

/** PROTOCOL.md §9.4 defaults, per minute. `onboard` is 3 per 5 min. */
export const DEFAULT_RATE_LIMITS: Record<(typeof ACTIONS)[number], BucketLimit> = {
  ws_message: { capacity: 200, per_min: 200 },
  message: { capacity: 100, per_min: 100 },
  channel_publish: { capacity: 50, per_min: 50 },
  task_submit: { capacity: 20, per_min: 20 },
  mailbox_poll: { capacity: 30, per_min: 30 },
  channel_create: { capacity: 5, per_min: 5 },
  http: { capacity: 300, per_min: 300 },
  onboard: { capacity: 3, per_min: 0.6 },
};

const httpUrlOrEmpty = (s: string) => s === '' || (/^https?:\/\//.test(s) && URL.canParse(s));

/**
 * Every knob of the hub, by section. Flags are the kebab-case key
 * (`--mailbox-max`), env the upper snake case with an AGENTCOM_ prefix
 * (`AGENTCOM_MAILBOX_MAX`); `--config file.json` takes the camelCase keys.
 * Tests shrink the timers.
 */
export const CONFIG_SECTIONS = {
  Server: {
    host: text('0.0.0.0', 'public bind address'),
    port: int(4000, 0, 'public port: WS /ws, HTTP /api/* (PORT also works)'),
    adminHost: text('127.0.0.1', 'admin bind address (keep it on loopback)'),
    adminPort: int(4001, 0, 'admin port'),
    data: text('./data', 'data directory (one LMDB environment per domain)'),
    adminToken: text('', 'admin token; empty = generate once, print once (stderr), store hashed'),
    validationMode: oneOf(['strict', 'log-only'], 'strict', 'strict or log-only (§9.3)'),
    // what the start-up check reads of each environment in a child process (§9.33)
    verifyOnStart: oneOf(['counts', 'full', 'off'], 'counts', 'start-up check of each data file: counts, full or off'),
    shutdownMs: int(10_000, 100, 'SIGTERM/SIGINT deadline'),
  },
  Logs: {
    logLevel: oneOf(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      'info',
      'pino level (also at run time: PUT /admin/log-level)',
    ),
    logFormat: oneOf(['auto', 'json', 'pretty'], 'auto', 'stdout: auto = pretty on a terminal, JSON lines otherwise'),
    logFile: text('', 'also write JSON lines to this file, rotated (pino-roll); empty = off'),
    logFileSize: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d+[kmg]?$/i, 'a size such as 500k, 10m or 1g'),
        v.description('rotate the log file at this size (k, m, g)'),
      ),
      '10m',
    ),
    logFileKeep: int(5, 1, 'rotated log files kept besides the current one'),
  },
  // validation limits (§9.2, §9.19, §9.29)
  Limits: {
    maxFrameBytes: int(1024 * 1024, 1024, 'WS frame cap (close 1009 above)'),
    maxBodyBytes: int(8 * 1024 * 1024, 1024, 'HTTP body cap (413 above)'),
    maxDepth: int(32, 2, 'JSON nesting cap (§9.19)'),
    maxAgentId: int(64, 1, 'agent_id length ([A-Za-z0-9._-])'),
    maxPayloadBytes: int(64 * 1024, 16, 'payload size as JSON'),
    maxDescription: int(4096, 1, 'task description length'),
    maxCapabilities: int(20, 0, 'capabilities per agent'),
    maxCapability: int(64, 1, 'length of one capability'),
    maxName: int(128, 1, 'agent name length'),
    maxStatus: int(256, 1, 'status length'),
    maxChannel: int(64, 1, 'channel name length (after normalisation)'),
  },
  // storage caps (§9.5, §9.12)
  Storage: {
    historyMax: int(10_000, 1, 'global message history'),
    threadMax: int(10_000, 1, 'messages per thread'),
    mailboxMax: int(10_000, 1, 'mailbox entries per agent (oldest dropped, counted)'),
    mailboxTtlMs: int(7 * 24 * 3600_000, 1, 'mailbox TTL (also PUT /api/config/mailbox-retention)'),
    mailboxSweepMs: int(3600_000, 10, 'mailbox TTL sweep interval'),
    channelHistoryPerChannel: int(200, 1, 'channel history per channel'),
    channelHistoryTotal: int(5_000, 1, 'channel history across channels'),
    idempotencyTtlMs: int(24 * 3600_000, 1, 'how long idempotency keys are remembered'),
  },
  Maintenance: {
    // alert rules are checked this often (§3.6: 30 s)
    alertCheckMs: int(30_000, 10, 'alert rules check interval'),
    alertWebhookUrl: v.optional(
      v.pipe(
        v.string(),
        v.check(httpUrlOrEmpty, 'an http(s) URL or empty'),
        v.description('POST each alert that fires or resolves to this URL (JSON); empty = off'),
      ),
      '',
    ),
    alertWebhookTimeoutMs: int(5_000, 10, 'timeout of each webhook attempt; the 2nd waits 1×, the 3rd 5× this'),
    // backups (§3.5: daily, 3 kept); 0 turns the schedule off
    backupIntervalMs: int(86_400_000, 0, 'scheduled backup interval; 0 = off'),
    backupKeep: int(3, 1, 'backups kept'),
    // compaction (§3.5: every 6 h, domains at least 10 % free pages); 0 turns the schedule off
    compactIntervalMs: int(6 * 3600_000, 0, 'scheduled compaction check (6 h); 0 = off'),
    compactMinFragmentation: v.optional(
      v.pipe(
        v.number(),
        v.minValue(0),
        v.maxValue(1),
        v.description('a domain is compacted when at least this share of its file is free'),
      ),
      0.1,
    ),
    compactMinBytes: int(1024 * 1024, 0, '… and it has at least this much to give back'),
  },
  // batching, overload and connections (§9.20, §9.23, §9.26)
  Connections: {
    batchMax: int(2048, 1, 'requests per batch (one LMDB transaction)'),
    // more than 1 measured no faster: each batch still pays its own fdatasync on the worker's thread
    batchesInFlight: int(1, 1, 'batches sent to a domain worker before the first is answered (each after its flush)'),
    queueMax: int(50_000, 1, 'requests waiting per domain before overloaded'),
    sendBufferMax: int(8 * 1024 * 1024, 1024, 'per-socket outbound buffer cap (§9.20)'),
    slowConsumerMs: int(30_000, 10, 'time over the cap before close 4008'),
    reaperIntervalMs: int(30_000, 10, 'idle reaper interval'),
    idleTimeoutMs: int(60_000, 10, 'no frame for this long → disconnected'),
    wsPingIntervalMs: int(20_000, 10, 'WebSocket-level ping (dead TCP peers)'),
    violationWindowMs: int(60_000, 10, 'violation counting window'),
    violationMax: int(10, 1, 'violations in the window that close the socket (1008)'),
    backoffMs: v.optional(
      v.pipe(
        v.array(v.pipe(v.number(), v.integer(), v.minValue(0))),
        v.description('identify back-off steps after a violation close (JSON list)'),
      ),
      [30_000, 60_000, 300_000],
    ),
  },
  // task pipeline timers (§4, §9.11, §9.26, §9.27)
  Tasks: {
    acceptTimeoutMs: int(60_000, 10, 'task must be accepted within'),
    taskSweepMs: int(30_000, 10, 'task sweep interval (deadlines, stale, absent agents)'),
    staleMs: int(600_000, 10, 'assigned task without progress → reclaimed'),
    staleWorkingMs: int(1_200_000, 10, 'same while the agent is working'),
    restartGraceMs: int(90_000, 0, 'after a restart, assigned tasks wait this long for their agent'),
    rejectCooldownMs: int(10_000, 0, 'no offers after task_rejected for'),
    schedulerFallbackMs: int(5_000, 10, 'scheduler fallback pass'),
    maxReclaims: int(5, 1, 'reclaims before dead letter stalled'),
    taskTtlMs: int(0, 0, 'queued-task TTL; 0 = off (§9.11)'),
    // retention of finished tasks (BullMQ's removeOnComplete / removeOnFail): a count and an age (0 = no age limit)
    taskKeepCompleted: int(10_000, 0, 'completed tasks kept (the oldest beyond are removed, counted)'),
    taskKeepCompletedMs: int(7 * 24 * 3600_000, 0, 'completed tasks older than this are removed; 0 = no age limit'),
    taskKeepDead: int(10_000, 0, 'dead letters kept (the oldest beyond are removed, counted)'),
    taskKeepDeadMs: int(30 * 24 * 3600_000, 0, 'dead letters older than this are removed; 0 = no age limit'),
  },
  // rate limiting (§9.4)
  'Rate limits': {
    rateLimits: v.optional(
      v.pipe(
        v.record(v.picklist(ACTIONS), Bucket),
        v.description('JSON {"<action>":{"capacity":N,"per_min":R}} overriding §9.4 defaults'),
      ),
      {},
    ),
    rateSlots: int(65_536, 16, 'rate-limiter slots in the shared table'),
  },
};

const S = CONFIG_SECTIONS;
export const ConfigSchema = v.object({
  ...S.Server,
  ...S.Logs,
  ...S.Limits,
  ...S.Storage,
  ...S.Maintenance,
  ...S.Connections,
  ...S.Tasks,
  ...S['Rate limits'],
});

export type Config = v.InferOutput<typeof ConfigSchema>;
export type ConfigKey = keyof Config;

export function parseConfig(input: Record<string, unknown>): Config {
  return v.parse(ConfigSchema, input);
}

export function rateLimitFor(config: Config, action: (typeof ACTIONS)[number]): BucketLimit {
  return config.rateLimits[action] ?? DEFAULT_RATE_LIMITS[action];
}
