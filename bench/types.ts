/**
 * Messages and shapes shared by the bench's main thread (orchestrator) and
 * its load-generator worker threads. Times are microseconds on the monotonic
 * clock of `util.ts`, which every thread of the process shares.
 */

export const SCENARIOS = [
  'direct',
  'broadcast',
  'channels',
  'mailbox',
  'tasks',
  'connections',
  'mixed',
  'maintenance',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What a sending agent does on each scheduled send. */
export type OpKind = 'direct' | 'broadcast' | 'publish' | 'task';

export interface OpSpec {
  kind: OpKind;
  /** relative weight in the agent's mix */
  weight: number;
  /** recipient of a direct message */
  to?: string;
}

/** One agent as a worker drives it; its role is the sum of these fields. */
export interface AgentSpec {
  id: string;
  token: string;
  /** false: never opens a socket (offline mailbox recipient, HTTP-only submitter) */
  connect: boolean;
  /** present: a sender, picking among these ops */
  ops?: OpSpec[];
  /** subscribes to this channel over WS before the run */
  subscribe?: string;
  /** present: answers task_assign with task_accepted + task_complete */
  capabilities?: string[];
  /** polls and acks its mailbox over HTTP after each phase */
  poll?: boolean;
}

export interface WorkerInit {
  index: number;
  wsUrl: string;
  apiUrl: string;
  agents: AgentSpec[];
  /** payload size in bytes (JSON of the payload object) */
  size: number;
  /** the channel publishers publish to */
  channel?: string;
  /** capabilities every task submitted by this worker needs besides the mix (keeps cycles inside one worker) */
  taskScope: string;
  /** closed-loop window multiplier for task ops: outstanding cycles = window × taskers in this worker */
  taskers: number;
  /** concurrent socket opens while connecting */
  connectConcurrency: number;
  /** the identify's delivery mode; `acked` receivers ack their mailbox in batches */
  delivery: 'live' | 'acked';
  /** pure task agents speak raw frames, or run on the client SDK */
  taskClient: 'raw' | 'sdk';
}

export type PhaseMode = 'open' | 'closed' | 'hold';

export interface PhaseSpec {
  id: number;
  mode: PhaseMode;
  /** open loop: this worker's share of the total rate, ops/s */
  rate?: number;
  /** closed loop: outstanding ops per sender */
  window?: number;
  /** the common start time (clock µs) */
  startUs: number;
  warmupUs: number;
  durationUs: number;
  drainUs: number;
  /** keep every measured sample with its send time, so the phase can be split into windows afterwards */
  timeline?: boolean;
}

export interface Counts {
  sent: number;
  acked: number;
  /** acks received inside the measured window (for throughput) */
  ackedInWindow: number;
  ackedBy: Record<OpKind, number>;
  delivered: number;
  deliveredInWindow: number;
  cycles: number;
  cyclesInWindow: number;
  errors: number;
  rateLimited: number;
  overloaded: number;
  rateLimitWarnings: number;
  /** sends still unanswered when the drain ended */
  timeouts: number;
  errorCodes: Record<string, number>;
  /** sockets the server closed during the phase, by close code */
  closed: Record<string, number>;
  mailboxExpected: number;
  mailboxReceived: number;
  /** mailbox entries older than this phase found while polling */
  mailboxStale: number;
}

export function emptyCounts(): Counts {
  return {
    sent: 0,
    acked: 0,
    ackedInWindow: 0,
    ackedBy: { direct: 0, broadcast: 0, publish: 0, task: 0 },
    delivered: 0,
    deliveredInWindow: 0,
    cycles: 0,
    cyclesInWindow: 0,
    errors: 0,
    rateLimited: 0,
    overloaded: 0,
    rateLimitWarnings: 0,
    timeouts: 0,
    errorCodes: {},
    closed: {},
    mailboxExpected: 0,
    mailboxReceived: 0,
    mailboxStale: 0,
  };
}

/** Adds b into a (counters only; maps merged by key). */
export function addCounts(a: Counts, b: Counts): Counts {
  for (const k of Object.keys(a) as Array<keyof Counts>) {
    const av = a[k];
    const bv = b[k];
    if (typeof av === 'number' && typeof bv === 'number') (a[k] as number) = av + bv;
    else {
      const am = av as Record<string, number>;
      for (const [key, n] of Object.entries(bv as Record<string, number>)) am[key] = (am[key] ?? 0) + n;
    }
  }
  return a;
}

/** Histogram names a worker may return (all in µs). */
export type HistName = 'ack' | 'delivery' | 'submit' | 'cycle' | 'poll' | 'connect' | 'lag';

export interface WorkerPhaseResult {
  counts: Counts;
  /** compressed base64 HdrHistogram per name */
  hist: Partial<Record<HistName, string>>;
  /** event-loop utilisation of the worker thread during the phase, 0..1 */
  elu: number;
  /** with PhaseSpec.timeline: per histogram, pairs of (send time, latency) in µs, interleaved */
  timeline?: Partial<Record<HistName, Float64Array>>;
  /** with PhaseSpec.timeline: the send times of each op kind, so a window can count what was never answered */
  sends?: Partial<Record<OpKind, Float64Array>>;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'phase'; phase: PhaseSpec }
  /** the running phase's send window ends at this clock time (phases whose end the orchestrator decides) */
  | { type: 'end'; atUs: number }
  | { type: 'collect' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; connected: number }
  | { type: 'progress'; sent: number; acked: number; delivered: number; errors: number }
  | { type: 'phase_done' }
  | { type: 'result'; result: WorkerPhaseResult }
  | { type: 'fatal'; error: string };
