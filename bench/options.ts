import { availableParallelism } from 'node:os';
import { type CliOption, HELP_OPTION, helpText, parseCli, UsageError, wantsHelp } from '../shared/cli.js';
import { DEFAULT_AGENTS, DESCRIPTIONS } from './scenarios.js';
import type { HubCommand } from './server-process.js';
import { SCENARIOS, type ScenarioName } from './types.js';

export interface BenchOptions {
  scenario: ScenarioName;
  agents: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  /** open loop: total ops/s over all senders */
  rate?: number;
  /** closed loop: ops in flight per sender (per task agent for `tasks`) */
  window: number;
  /** first find the closed-loop max, then run open loop at this fraction of it */
  rateOfMax?: number;
  /** ramp the closed-loop concurrency to the knee (throughput stops rising or ack p99 passes kneeP99Ms) */
  findMax: boolean;
  kneeP99Ms: number;
  maxWindow: number;
  size: number;
  workers: number;
  url?: string;
  adminUrl?: string;
  adminToken?: string;
  hubPid?: number;
  /** own hub: parent of its temp data dir; --url: the directory whose fdatasync is probed */
  dataDir?: string;
  baseline: boolean;
  json?: string;
  html?: string;
  hubCommand: HubCommand;
  hubArgs: string[];
  hubLogLevel: string;
  diskSamples: number;
  /** receivers identify with this delivery mode; `acked` keeps every message in the mailbox until acked (§9.32) */
  delivery: 'live' | 'acked';
  /** `sdk`: pure task agents run on the client SDK (client/) instead of raw frames */
  taskClient: 'raw' | 'sdk';
  /** maintenance: grow the messaging environment to this many MiB before the load */
  fillMb: number;
  /** maintenance: payload bytes (as JSON) of each filling message */
  fillPayload: number;
  /** maintenance: seconds between windows, so one window's backlog does not spill into the next */
  settleS: number;
  /** maintenance: the calls to make under load, in this order */
  maintenance: MaintenanceCall[];
}

const MAINTENANCE_CALLS = ['backup', 'compact'] as const;
export type MaintenanceCall = (typeof MAINTENANCE_CALLS)[number];

/** maintenance: total ops/s when --rate is not given; light enough that maintenance, not load, sets the tail */
const MAINTENANCE_RATE = 1000;

export { UsageError };

/** Every bench flag is also an environment variable: AGENTCOM_BENCH_ and the flag in upper snake case. */
const opt = (
  group: string,
  name: string,
  value: string | null,
  def: string | undefined,
  help: string,
  more: Partial<CliOption> = {},
): CliOption => ({
  name,
  type: value === null ? 'boolean' : 'string',
  ...(value === null ? {} : { value }),
  env: `AGENTCOM_BENCH_${name.replace(/-/g, '_').toUpperCase()}`,
  ...(def === undefined ? {} : { default: def }),
  help,
  group,
  ...more,
});

/** The numeric defaults, for --help and for parsing alike. */
const DEFAULTS = {
  duration: 10,
  warmup: 1,
  window: 8,
  'knee-p99': 100,
  'max-window': 1024,
  size: 1024,
  drain: 10,
  'fill-mb': 1024,
  'fill-payload': 65536,
  settle: 2,
  'disk-samples': 500,
};

const LOAD = 'Load';
const MAINT = `Maintenance (--scenario maintenance; open loop only, --rate default ${MAINTENANCE_RATE}; --duration = warm-up + quiet window)`;
const TARGET = 'Target';
const OUTPUT = 'Output';

/** The bench's option table: parsing and --help come from it. */
export const BENCH_OPTIONS: CliOption[] = [
  opt(LOAD, 'scenario', 'NAME', undefined, `one of ${SCENARIOS.join(', ')}`, { required: true }),
  opt(
    LOAD,
    'agents',
    'N',
    `per scenario: ${SCENARIOS.map((s) => `${s} ${DEFAULT_AGENTS[s]}`).join(', ')}`,
    'simulated agents',
  ),
  opt(LOAD, 'duration', 'S', String(DEFAULTS.duration), 'send window per phase, seconds'),
  opt(LOAD, 'warmup', 'S', String(DEFAULTS.warmup), 'first seconds of each phase left out of the numbers'),
  opt(LOAD, 'rate', 'R', undefined, 'open loop: R ops/s in total on a fixed schedule; latency from the scheduled time'),
  opt(LOAD, 'window', 'W', String(DEFAULTS.window), 'closed loop: W ops in flight per sender (tasks: per task agent)'),
  opt(LOAD, 'rate-of-max', 'F', undefined, 'closed loop first to find the max, then open loop at F × max (e.g. 0.5)'),
  opt(
    LOAD,
    'find-max',
    null,
    undefined,
    "ramp the closed loop's window (1, 2, 4, … per sender) until throughput stops rising (two steps in a row under +5 %) or the ack p99 passes --knee-p99; the knee is the max that --rate-of-max scales, and the hub's knee is compared with the baseline's",
  ),
  opt(LOAD, 'knee-p99', 'MS', String(DEFAULTS['knee-p99']), 'the ack p99 a ramp step may reach'),
  opt(LOAD, 'max-window', 'N', String(DEFAULTS['max-window']), 'the largest window the ramp tries'),
  opt(LOAD, 'size', 'BYTES', String(DEFAULTS.size), 'message payload size'),
  opt(
    LOAD,
    'delivery',
    'live|acked',
    'live',
    'acked: receivers identify with delivery "acked" and ack their mailbox every 20 ms',
  ),
  opt(LOAD, 'task-client', 'raw|sdk', 'raw', 'sdk: the agents that only work tasks run on the client SDK'),
  opt(LOAD, 'workers', 'N', String(defaultWorkers()), 'load-generator threads'),
  opt(LOAD, 'drain', 'S', String(DEFAULTS.drain), 'wait for outstanding replies after a phase'),
  opt(
    MAINT,
    'fill-mb',
    'N',
    String(DEFAULTS['fill-mb']),
    'grow the messaging environment to N MiB first, through the public API',
  ),
  opt(
    MAINT,
    'fill-payload',
    'B',
    String(DEFAULTS['fill-payload']),
    "payload bytes of each filling message, at most the hub's --max-payload-bytes",
  ),
  opt(MAINT, 'settle', 'S', String(DEFAULTS.settle), 'seconds between the quiet, backup and compaction windows'),
  opt(
    MAINT,
    'maintenance',
    'LIST',
    MAINTENANCE_CALLS.join(','),
    'the calls under load, in order: backup, compact (of messaging)',
  ),
  opt(TARGET, 'url', 'ws://H:P/ws', undefined, 'a running hub instead of the bench’s own'),
  opt(TARGET, 'admin-url', 'URL', undefined, "the running hub's admin URL (with --url)", {
    env: 'AGENTCOM_ADMIN_URL',
  }),
  opt(TARGET, 'admin-token', 'T', undefined, "the running hub's admin token (with --url)", {
    env: 'AGENTCOM_ADMIN_TOKEN',
  }),
  opt(TARGET, 'hub-pid', 'PID', undefined, "sample this pid's CPU and RSS in --url mode"),
  opt(
    TARGET,
    'data-dir',
    'DIR',
    'the OS temp dir',
    'own hub: where its temp data dir goes; --url: the dir whose fdatasync to probe',
  ),
  opt(TARGET, 'no-baseline', null, undefined, 'skip the baseline run'),
  opt(TARGET, 'hub-cmd', 'dist|tsx', 'dist', 'dist = npm run build + node dist/main/index.js; tsx = sources via tsx'),
  opt(TARGET, 'hub-arg', 'ARG', undefined, 'extra hub flag, repeatable (e.g. --hub-arg=--batch-max=512)', {
    multiple: true,
  }),
  opt(TARGET, 'hub-log-level', 'L', 'info', "the hub's --log-level"),
  opt(TARGET, 'disk-samples', 'N', String(DEFAULTS['disk-samples']), 'fdatasync probe size'),
  opt(OUTPUT, 'json', 'FILE', undefined, 'full report as JSON (histograms included, compressed base64)'),
  opt(OUTPUT, 'html', 'FILE', undefined, 'self-contained HTML report with the latency percentile curves'),
  { ...HELP_OPTION, group: OUTPUT },
];

export const HELP = helpText(
  'npm run bench -- --scenario <name> [options]',
  `Drives an AgentCom hub over WebSocket/HTTP like any fleet would, then runs the
same load against a minimal raw-ws baseline and prints hub/baseline ratios.
By default it builds and starts its own hub (npm start's way) on free loopback
ports and a temp data dir; --url aims at a running hub instead. Agent tokens
come from POST /admin/tokens and the agents are whitelisted from rate limits
(PUT /admin/rate-limits/whitelist); the bench never onboards.

Scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(12)} ${DESCRIPTIONS[s]}`).join('\n')}`,
  BENCH_OPTIONS,
);

function defaultWorkers(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

const num = (name: string, text: string, min: number, integer = true): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${name} needs ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`);
  return n;
};

/** Parses argv (after `npm run bench --`) and the AGENTCOM_BENCH_* variables; returns null when --help was asked. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | null {
  if (wantsHelp(argv)) return null;
  const values = parseCli(BENCH_OPTIONS, argv, env);
  const hubArgs = (values['hub-arg'] as string[] | undefined) ?? [];
  const take = (name: string) => {
    const v = values[name];
    return typeof v === 'boolean' ? (v ? 'true' : undefined) : (v as string | undefined);
  };
  const scenario = take('scenario') as string;
  if (!(SCENARIOS as readonly string[]).includes(scenario))
    throw new UsageError(`unknown scenario "${scenario}"; one of ${SCENARIOS.join(', ')}`);
  const s = scenario as ScenarioName;
  const opt = (name: string, def: number, min: number, integer = true) => {
    const v = take(name);
    return v === undefined ? def : num(name, v, min, integer);
  };
  const rateText = take('rate');
  const windowText = take('window');
  const rofText = take('rate-of-max');
  if (rateText && windowText) throw new UsageError('--rate (open loop) and --window (closed loop) exclude each other');
  if (rateText && rofText) throw new UsageError('--rate-of-max finds the rate itself; drop --rate');
  const findMax = take('find-max') !== undefined;
  if (findMax && (rateText || windowText))
    throw new UsageError('--find-max ramps the window itself; drop --rate and --window');
  const hubCommand = take('hub-cmd') ?? 'dist';
  if (hubCommand !== 'dist' && hubCommand !== 'tsx') throw new UsageError('--hub-cmd is dist or tsx');
  const pidText = take('hub-pid');
  const maintenance = s === 'maintenance';
  if (maintenance && (windowText || rofText))
    throw new UsageError('maintenance runs an open loop: give --rate, not --window or --rate-of-max');
  const calls = (take('maintenance') ?? MAINTENANCE_CALLS.join(',')).split(',').filter(Boolean);
  const unknownCall = calls.find((c) => !(MAINTENANCE_CALLS as readonly string[]).includes(c));
  if (unknownCall) throw new UsageError(`--maintenance takes ${MAINTENANCE_CALLS.join(', ')}; got "${unknownCall}"`);
  const delivery = take('delivery') ?? 'live';
  if (delivery !== 'live' && delivery !== 'acked') throw new UsageError('--delivery is live or acked');
  const taskClient = take('task-client') ?? 'raw';
  if (taskClient !== 'raw' && taskClient !== 'sdk') throw new UsageError('--task-client is raw or sdk');
  const o: BenchOptions = {
    scenario: s,
    agents: opt('agents', DEFAULT_AGENTS[s], 1),
    durationS: opt('duration', DEFAULTS.duration, 0.1, false),
    warmupS: opt('warmup', DEFAULTS.warmup, 0, false),
    drainS: opt('drain', DEFAULTS.drain, 0, false),
    rate: rateText === undefined ? (maintenance ? MAINTENANCE_RATE : undefined) : num('rate', rateText, 0.001, false),
    window: windowText === undefined ? DEFAULTS.window : num('window', windowText, 1),
    rateOfMax: rofText === undefined ? undefined : num('rate-of-max', rofText, 0.001, false),
    findMax,
    kneeP99Ms: opt('knee-p99', DEFAULTS['knee-p99'], 0.001, false),
    maxWindow: opt('max-window', DEFAULTS['max-window'], 1),
    size: opt('size', DEFAULTS.size, 0),
    workers: opt('workers', defaultWorkers(), 1),
    url: take('url'),
    adminUrl: take('admin-url'),
    adminToken: take('admin-token'),
    hubPid: pidText === undefined ? undefined : num('hub-pid', pidText, 1),
    dataDir: take('data-dir'),
    baseline: take('no-baseline') === undefined,
    json: take('json'),
    html: take('html'),
    hubCommand,
    hubArgs,
    hubLogLevel: take('hub-log-level') ?? 'info',
    diskSamples: opt('disk-samples', DEFAULTS['disk-samples'], 1),
    delivery: delivery as 'live' | 'acked',
    taskClient: taskClient as 'raw' | 'sdk',
    fillMb: opt('fill-mb', DEFAULTS['fill-mb'], 0, false),
    fillPayload: opt('fill-payload', DEFAULTS['fill-payload'], 64),
    settleS: opt('settle', DEFAULTS.settle, 0, false),
    maintenance: calls as MaintenanceCall[],
  };
  if (o.warmupS >= o.durationS) throw new UsageError('--warmup must be shorter than --duration');
  if (o.url && (!o.adminUrl || !o.adminToken))
    throw new UsageError('--url needs --admin-url and --admin-token (or AGENTCOM_ADMIN_URL / AGENTCOM_ADMIN_TOKEN)');
  return o;
}
