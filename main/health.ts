import type { DomainStats } from '../shared/domains/domain.js';
import type { TaskFigures } from '../shared/domains/tasks.js';
import type { DeliveryCounters } from './fanout.js';
import type { Fleet } from './fleet.js';
import type { FsmState } from './scheduler.js';

export interface HealthDeps {
  domains: ReadonlyArray<{ name: string; stats: DomainStats }>;
  fleet: Fleet;
  agents: { counts(): Record<FsmState, number> };
  counters: DeliveryCounters;
  violations: { total: number };
  validator: { lenientAccepted: number };
  startedAt: number;
  /** the tasks domain's figures after its last batch (per-state counts, pauses, retention removals) */
  tasks: () => TaskFigures | null;
}

/** The admin port's `/health`: `degraded`, with the reasons, while a domain's storage is not ready. */
export function health(d: HealthDeps) {
  const notReady = d.domains.filter((x) => x.stats.state !== 'ready');
  return {
    status: notReady.length ? 'degraded' : 'ok',
    reasons: notReady.map(
      (x) => `${x.name} storage ${x.stats.state}${x.stats.last_error ? `: ${x.stats.last_error}` : ''}`,
    ),
    service: 'agent_com',
    uptime_ms: Date.now() - d.startedAt,
    agents_connected: d.fleet.count(),
    connections: [...d.fleet.sockets()].length,
    workers: Object.fromEntries(d.domains.map((x) => [x.name, { ...x.stats }])),
    agents: d.agents.counts(),
    counters: { ...d.counters, violations: d.violations.total, lenient: d.validator.lenientAccepted },
    tasks: d.tasks(),
  };
}

export interface ReadyDeps {
  domains: ReadonlyArray<{ name: string; stats: DomainStats }>;
  /** requests a domain may queue before it answers `overloaded` */
  queueMax: number;
  /** true once SIGTERM/SIGINT started the shutdown */
  closing: () => boolean;
}

/**
 * `GET /ready`: whether the hub takes writes now. Not while shutting down,
 * while a domain's storage is not ready (its writes fail), or while a
 * domain's queue is full (its writes are refused as `overloaded`).
 */
export function readiness(d: ReadyDeps): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (d.closing()) reasons.push('shutting down');
  for (const x of d.domains) {
    if (x.stats.state !== 'ready') reasons.push(`${x.name} storage ${x.stats.state}`);
    else if (x.stats.queued >= d.queueMax) reasons.push(`${x.name} overloaded: ${x.stats.queued} requests waiting`);
  }
  return { ready: reasons.length === 0, reasons };
}
