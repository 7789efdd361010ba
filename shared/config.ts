import * as v from 'valibot';
import { ACTIONS } from './ratelimit.js';

const int = (def: number, min = 0) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(min)), def);

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

/**
 * Every knob of the hub. Flags are the kebab-case key (`--mailbox-max`), env
 * the upper snake case with an AGENTCOM_ prefix (`AGENTCOM_MAILBOX_MAX`);
 * `--config file.json` takes the camelCase keys. Tests shrink the timers.
 */
export const ConfigSchema = v.object({
  host: v.optional(v.string(), '0.0.0.0'),
  port: int(4000),
  adminHost: v.optional(v.string(), '127.0.0.1'),
  adminPort: int(4001),
  data: v.optional(v.string(), './data'),
  adminToken: v.optional(v.string(), ''),
  logLevel: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
  validationMode: v.optional(v.picklist(['strict', 'log-only']), 'strict'),
  // what the start-up check reads of each environment in a child process (§9.33)
  verifyOnStart: v.optional(v.picklist(['counts', 'full', 'off']), 'counts'),

  // validation limits (§9.2, §9.19, §9.29)
  maxFrameBytes: int(1024 * 1024, 1024),
  maxBodyBytes: int(8 * 1024 * 1024, 1024),
  maxDepth: int(32, 2),
  maxAgentId: int(64, 1),
  maxPayloadBytes: int(64 * 1024, 16),
  maxDescription: int(4096, 1),
  maxCapabilities: int(20, 0),
  maxCapability: int(64, 1),
  maxName: int(128, 1),
  maxStatus: int(256, 1),
  maxChannel: int(64, 1),

  // storage caps (§9.5, §9.12)
  historyMax: int(10_000, 1),
  threadMax: int(10_000, 1),
  mailboxMax: int(10_000, 1),
  mailboxTtlMs: int(7 * 24 * 3600_000, 1),
  mailboxSweepMs: int(3600_000, 10),
  channelHistoryPerChannel: int(200, 1),
  channelHistoryTotal: int(5_000, 1),
  idempotencyTtlMs: int(24 * 3600_000, 1),

  // alert rules are checked this often (§3.6: 30 s)
  alertCheckMs: int(30_000, 10),

  // backups (§3.5: daily, 3 kept); 0 turns the schedule off
  backupIntervalMs: int(86_400_000, 0),
  backupKeep: int(3, 1),
  // compaction (§3.5: every 6 h, domains at least 10 % free pages); 0 turns the schedule off
  compactIntervalMs: int(6 * 3600_000, 0),
  compactMinFragmentation: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.1),
  compactMinBytes: int(1024 * 1024, 0),

  // batching and overload (§9.23)
  batchMax: int(2048, 1),
  // batches out per domain at once: the worker applies the next while the last one's commit is flushed
  batchesInFlight: int(1, 1),
  queueMax: int(50_000, 1),

  // connections (§9.20, §9.26)
  sendBufferMax: int(8 * 1024 * 1024, 1024),
  slowConsumerMs: int(30_000, 10),
  reaperIntervalMs: int(30_000, 10),
  idleTimeoutMs: int(60_000, 10),
  wsPingIntervalMs: int(20_000, 10),
  violationWindowMs: int(60_000, 10),
  violationMax: int(10, 1),
  backoffMs: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0))), [30_000, 60_000, 300_000]),
  shutdownMs: int(10_000, 100),

  // task pipeline timers (§4, §9.11, §9.26, §9.27)
  acceptTimeoutMs: int(60_000, 10),
  taskSweepMs: int(30_000, 10),
  staleMs: int(600_000, 10),
  staleWorkingMs: int(1_200_000, 10),
  restartGraceMs: int(90_000, 0),
  rejectCooldownMs: int(10_000, 0),
  schedulerFallbackMs: int(5_000, 10),
  maxReclaims: int(5, 1),
  taskTtlMs: int(0, 0),
  // retention of finished tasks (BullMQ's removeOnComplete / removeOnFail): a count and an age (0 = no age limit)
  taskKeepCompleted: int(10_000, 0),
  taskKeepCompletedMs: int(7 * 24 * 3600_000, 0),
  taskKeepDead: int(10_000, 0),
  taskKeepDeadMs: int(30 * 24 * 3600_000, 0),

  // rate limiting (§9.4)
  rateLimits: v.optional(v.record(v.picklist(ACTIONS), Bucket), {}),
  rateSlots: int(65_536, 16),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

export function parseConfig(input: Record<string, unknown>): Config {
  return v.parse(ConfigSchema, input);
}

export function rateLimitFor(config: Config, action: (typeof ACTIONS)[number]): BucketLimit {
  return config.rateLimits[action] ?? DEFAULT_RATE_LIMITS[action];
}
