import type { AgentSpec, OpKind, ScenarioName } from './types.js';

/** What each scenario does, for `--help` and the README. */
export const DESCRIPTIONS: Record<ScenarioName, string> = {
  direct:
    'pairs of agents; each sender sends `message {to}` to its partner (ack = message_sent, delivery timed at the recipient)',
  broadcast: 'every agent online; one in ten sends `message` without `to` (fan-out to all, sender included)',
  channels: 'one publisher `channel_publish`es to a channel every other agent subscribed to (channel_message fan-out)',
  mailbox: 'senders message offline partners; after the send window each partner polls GET /api/mailbox and acks',
  tasks:
    'one HTTP submitter per generator thread (POST /api/tasks, trivial, capability mix); every agent runs task_assign → task_accepted → task_complete → task_ack',
  connections: 'N idle identified agents (presence_events:false); reports hub RSS per connection',
  mixed:
    'pairs sending direct messages (75%), channel publishes to all (20%) and task submits (5%); every agent also subscribes and works tasks',
  maintenance:
    'fills messaging to --fill-mb, then an open loop of direct messages (75%) and task submits (25%, worked by the same agents) through a quiet window, POST /admin/backup and POST /admin/compact/messaging; latency per op kind per window',
};

/** Agents per scenario when `--agents` is not given. */
export const DEFAULT_AGENTS: Record<ScenarioName, number> = {
  direct: 20,
  broadcast: 20,
  channels: 101,
  mailbox: 20,
  tasks: 20,
  connections: 1000,
  mixed: 40,
  maintenance: 20,
};

/** The capability sets task agents get, cycled; the first covers every need of bench/gen/tasks.ts. */
const CAP_SETS = [['code', 'test', 'docs'], ['code'], ['docs'], ['code', 'test']];

export interface Plan {
  /** agents per generator thread (tokens filled in later) */
  workers: AgentSpec[][];
  /** deliveries each acked op should cause */
  fanout: Record<OpKind, number>;
  channel?: string;
  /** the throughput that `--rate-of-max` and the ratio use */
  primary: 'ops' | 'cycles' | 'connections';
  needs: Array<'channels' | 'tasks'>;
  /** task agents per thread (closed-loop task window is per task agent) */
  taskers: number[];
  /** per thread: the capability every task it submits needs, so its own agents work them */
  scopes: string[];
}

export function taskScope(runId: string, worker: number): string {
  return `bench-${runId}-w${worker}`;
}

/**
 * Lays out the agents of a scenario over `threads` generator threads. Things
 * that talk to each other stay on one thread (a sender and its partner, a
 * task submitter and the agents its tasks need), so a thread knows when its
 * own work is done.
 */
export function planScenario(name: ScenarioName, agents: number, threads: number, runId: string): Plan {
  const id = (role: string, i: number) => `b${runId}-${role}${i}`;
  const spec = (agentId: string, extra: Partial<AgentSpec> = {}): AgentSpec => ({
    id: agentId,
    token: '',
    connect: true,
    ...extra,
  });
  const fanout: Record<OpKind, number> = { direct: 0, broadcast: 0, publish: 0, task: 0 };
  const channel = `bench-${runId}`;
  const units: AgentSpec[][] = [];
  let primary: Plan['primary'] = 'ops';
  const needs: Plan['needs'] = [];

  switch (name) {
    case 'direct':
    case 'mailbox': {
      const pairs = Math.max(1, Math.floor(agents / 2));
      const offline = name === 'mailbox';
      fanout.direct = offline ? 0 : 1;
      for (let i = 0; i < pairs; i++) {
        units.push([
          spec(id('s', i), { ops: [{ kind: 'direct', weight: 1, to: id('r', i) }] }),
          spec(id('r', i), offline ? { connect: false, poll: true } : {}),
        ]);
      }
      break;
    }
    case 'broadcast': {
      const n = Math.max(2, agents);
      const senders = Math.max(1, Math.round(n / 10));
      fanout.broadcast = n;
      for (let i = 0; i < n; i++)
        units.push([spec(id('a', i), i < senders ? { ops: [{ kind: 'broadcast', weight: 1 }] } : {})]);
      break;
    }
    case 'channels': {
      const n = Math.max(2, agents);
      needs.push('channels');
      fanout.publish = n - 1;
      units.push([spec(id('p', 0), { ops: [{ kind: 'publish', weight: 1 }] })]);
      for (let i = 1; i < n; i++) units.push([spec(id('sub', i), { subscribe: channel })]);
      break;
    }
    case 'connections':
      primary = 'connections';
      for (let i = 0; i < Math.max(1, agents); i++) units.push([spec(id('c', i))]);
      break;
    case 'tasks': {
      primary = 'cycles';
      needs.push('tasks');
      for (let i = 0; i < Math.max(1, agents); i++) units.push([spec(id('t', i), { capabilities: [] })]);
      break;
    }
    case 'mixed': {
      const pairs = Math.max(2, Math.floor(agents / 2));
      needs.push('channels', 'tasks');
      fanout.direct = 1;
      fanout.publish = pairs * 2 - 1;
      const ops = (to: string) => [
        { kind: 'direct' as const, weight: 75, to },
        { kind: 'publish' as const, weight: 20 },
        { kind: 'task' as const, weight: 5 },
      ];
      for (let i = 0; i < pairs; i++) {
        const [a, b] = [id('m', 2 * i), id('m', 2 * i + 1)];
        const both = { subscribe: channel, capabilities: [] };
        units.push([spec(a, { ...both, ops: ops(b) }), spec(b, { ...both, ops: ops(a) })]);
      }
      break;
    }
    case 'maintenance': {
      // one domain under maintenance (messaging) and one beside it (tasks), each measured on its own
      const pairs = Math.max(1, Math.floor(agents / 2));
      needs.push('tasks');
      fanout.direct = 1;
      const ops = (to: string) => [
        { kind: 'direct' as const, weight: 75, to },
        { kind: 'task' as const, weight: 25 },
      ];
      for (let i = 0; i < pairs; i++) {
        const [a, b] = [id('m', 2 * i), id('m', 2 * i + 1)];
        units.push([spec(a, { capabilities: [], ops: ops(b) }), spec(b, { capabilities: [], ops: ops(a) })]);
      }
      break;
    }
  }

  // spread units round-robin, never more threads than units
  const n = Math.max(1, Math.min(threads, units.length));
  const workers: AgentSpec[][] = Array.from({ length: n }, () => []);
  units.forEach((u, i) => {
    workers[i % n].push(...u);
  });
  const taskers = workers.map((list, w) => {
    const scope = taskScope(runId, w);
    let k = 0;
    for (const a of list) if (a.capabilities) a.capabilities = [scope, ...CAP_SETS[k++ % CAP_SETS.length]];
    return k;
  });
  if (name === 'tasks') {
    workers.forEach((list, w) => {
      list.unshift(spec(id('submit', w), { connect: false, ops: [{ kind: 'task', weight: 1 }] }));
    });
  }
  const scopes = workers.map((_, w) => taskScope(runId, w));
  return {
    workers,
    fanout,
    channel: needs.includes('channels') ? channel : undefined,
    primary,
    needs,
    taskers,
    scopes,
  };
}

/** Number of sending agents in a thread (for splitting an open-loop rate). */
export function sendersIn(list: AgentSpec[]): number {
  return list.filter((a) => a.ops?.length).length;
}
