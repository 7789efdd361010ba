import { backupSummaries } from '../shared/backups.js';
import type { Domain } from '../shared/domains/domain.js';
import type { TaskApi, TaskFigures, TaskReport } from '../shared/domains/tasks.js';
import { type Task, taskRow } from '../shared/schemas/tasks.js';
import type { Alerts } from './alerts.js';
import type { BackupRuns } from './backup-runs.js';
import type { ChannelDirectory } from './channels.js';
import type { DeliveryCounters } from './fanout.js';
import type { Fleet } from './fleet.js';
import type { Limiter } from './limiter.js';
import { LiveFeed } from './live-feed.js';
import type { Scheduler } from './scheduler.js';
import { Sparklines } from './sparklines.js';

export interface LiveDeps {
  /** the tasks domain with its report hook and live switch (the Batcher) */
  tasks: Domain<TaskApi> & { live: boolean; onReport: ((r: unknown) => void) | null };
  fleet: Fleet & { onPresence: ((agent: string) => void) | null };
  scheduler: Scheduler;
  alerts: Alerts;
  directory: ChannelDirectory;
  limiter: Limiter;
  backups: BackupRuns;
  storage: { report(): Record<string, unknown> };
  health: () => unknown;
  counters: DeliveryCounters;
  violations: { total: number };
  dataDir: string;
}

/** How often coalesced changes go out, and how much a viewer may leave unread before it is cut off. */
const FLUSH_MS = 200;
const VIEWER_BUFFER_MAX = 4 * 1024 * 1024;
/** What a snapshot lists at most of each. */
const SNAPSHOT = { tasks: 50, dead: 100, channels: 500 };

const rows = (p: { tasks: Task[] }) => p.tasks.map(taskRow);

/**
 * The live dashboard's sources, wired to one feed: each component says what
 * changed where it changes (tasks worker reports, agent state, presence,
 * alerts, channel subscribers, rate-limit refusals, backups, storage
 * samples); the feed coalesces and fans out once. While nobody watches, the
 * tasks worker records no changes and every hook returns at once.
 */
export function startLive(d: LiveDeps) {
  const sparks = new Sparklines();
  let figures: TaskFigures | null = null;
  const agentRow = (id: string) => {
    const a = d.fleet.agent(id);
    return a ? d.scheduler.withState(a) : null;
  };
  const counters = (): Record<string, number> => ({
    ...d.counters,
    violations: d.violations.total,
    viewers_dropped: feed.dropped,
  });
  const feed: LiveFeed = new LiveFeed({
    flushMs: FLUSH_MS,
    bufferMax: VIEWER_BUFFER_MAX,
    resolve: {
      agents: agentRow,
      channels: (name) =>
        d.directory.has(name) ? { name, subscriber_count: d.directory.subscribers(name).size } : null,
      limited: (key) => d.limiter.refusal(key) ?? null,
      backups: () => d.backups.list(),
      storage: () => d.storage.report(),
    },
    tick: () => ({ spark: sparks.last(), health: d.health(), counters: counters() }),
    watching: (on) => {
      d.tasks.live = on;
    },
  });

  d.tasks.onReport = (r) => {
    const report = r as TaskReport;
    figures = report.figures;
    if (!feed.watched) return;
    feed.set('figures', 'tasks', figures);
    for (const c of report.changes) feed.set('tasks', c.id, 'removed' in c ? null : c);
  };
  d.scheduler.onAgent = (agent) => feed.touch('agents', agent);
  d.fleet.onPresence = (agent) => feed.touch('agents', agent);
  d.alerts.onChange = (id, alert) => feed.set('alerts', id, alert);
  d.directory.onChange = (name) => feed.touch('channels', name);
  d.limiter.onRefused = (key) => feed.touch('limited', key);
  d.backups.onRun = () => feed.touch('backups', 'runs');

  /** What a new viewer starts from; the deltas after it are sent in order behind it. */
  const snapshot = async () => {
    const [recent, dead] = await Promise.all([
      d.tasks.call('list', { newest: true, limit: SNAPSHOT.tasks }),
      d.tasks.call('list', { status: 'dead_letter', limit: SNAPSHOT.dead }),
    ]);
    return {
      at: Date.now(),
      health: d.health(),
      // every tasks batch reports its figures before its callers are answered, so these are as of the lists
      figures: figures as TaskFigures,
      agents: d.fleet.list().map((a) => agentRow(a.agent_id)),
      tasks: rows(recent),
      dead: rows(dead),
      alerts: d.alerts.list(),
      channels: d.directory.summary(SNAPSHOT.channels),
      limited: d.limiter.refusals(),
      backups: { runs: d.backups.list(), stored: backupSummaries(d.dataDir) },
      storage: d.storage.report(),
      spark: sparks.history(),
      counters: counters(),
    };
  };

  return {
    feed,
    snapshot,
    /** the tasks domain's figures after its last batch */
    figures: () => figures,
    /** a task attempt ended (with Metrics.taskOutcome) */
    outcome: (outcome: 'complete' | 'retried' | 'dead_letter', createdAt: number, now: number) =>
      sparks.outcome(outcome, createdAt, now),
    /** storage was sampled */
    sampled: () => feed.touch('storage', 'report'),
  };
}

export type Live = ReturnType<typeof startLive>;
