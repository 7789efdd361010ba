import type { Domain } from '../shared/domains/domain.js';
import type { Finished, TaskApi } from '../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Offered } from '../shared/task-frames.js';
import { DueTimer } from './due-timer.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './log.js';
import type { Violations } from './violations.js';
import type { Connection } from './ws/connection.js';

export type FsmState = 'idle' | 'assigned' | 'working' | 'blocked' | 'offline';

interface AgentFsm {
  state: FsmState;
  task: string | null;
  since: number;
  timer: NodeJS.Timeout | null;
  /** no offers before this time after a task_rejected (§9.27) */
  cooldownUntil: number;
  flags: string[];
  /** what the agent identified with: the scheduler matches tasks against it */
  capabilities: string[];
}

/** Logs a failed background step; a shutdown in progress is not a failure. */
function logFailure(log: Logger, what: string) {
  return (err: unknown) => {
    if (!(err instanceof HubError && err.code === ErrorCode.shuttingDown)) log.error({ err }, `${what} failed`);
  };
}

export interface SchedulerDeps {
  tasks: Domain<TaskApi>;
  fleet: Fleet;
  violations: Violations;
  log: Logger;
  timers: {
    acceptTimeoutMs: number;
    restartGraceMs: number;
    rejectCooldownMs: number;
    schedulerFallbackMs: number;
    taskSweepMs: number;
  };
}

/**
 * The agent state machine (volatile, main thread) and the event-driven
 * scheduler (§4): a pass runs on submit, reclaim, retry, completion, identify
 * and idle, with a fallback timer; one pass in flight, a request meanwhile
 * runs one more pass after it. The tasks worker decides and persists the
 * assignment; main pushes it only after the commit.
 */
export class Scheduler {
  private readonly fsm = new Map<string, AgentFsm>();
  private running = false;
  private again = false;
  private graceUntil: number;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastTouch = new Map<string, number>();
  private readonly dueTimer: DueTimer;
  /** told of every agent state change (the live dashboard); O(1), called on the hot path */
  onAgent: ((agent: string) => void) | null = null;

  constructor(private readonly d: SchedulerDeps) {
    const t = d.timers;
    this.dueTimer = new DueTimer({ tasks: d.tasks, kick: () => this.kick(), log: d.log });
    // learns when the first scheduled task of a restarted hub is due
    this.dueTimer.due(Date.now());
    this.graceUntil = Date.now() + t.restartGraceMs;
    this.timers.push(setInterval(() => this.kick(), t.schedulerFallbackMs).unref());
    this.timers.push(setInterval(() => this.sweep(), t.taskSweepMs).unref());
    this.timers.push(setTimeout(() => this.sweep(), t.restartGraceMs + 10).unref());
  }

  /**
   * The tasks domain was replaced under the connected agents (an online
   * restore): what each holds is asked again, as at identify, and restored
   * assignments of absent agents get the restart grace (§9.27).
   */
  resync(): void {
    this.graceUntil = Date.now() + this.d.timers.restartGraceMs;
    this.dueTimer.due(Date.now());
    this.timers.push(setTimeout(() => this.sweep(), this.d.timers.restartGraceMs + 10).unref());
    for (const agent of this.d.fleet.agentIds()) {
      const c = this.d.fleet.local(agent);
      if (c) this.identified(c);
    }
  }

  /** A scheduled task is due at `at` (a delayed submit, a retry's back-off). */
  due(at: number | null | undefined): void {
    this.dueTimer.due(at);
  }

  stop(): void {
    // a shutdown closes every socket: that is not the agents leaving, so nothing is reclaimed
    this.stopped = true;
    this.dueTimer.stop();
    for (const t of this.timers) clearInterval(t);
    for (const f of this.fsm.values()) if (f.timer) clearTimeout(f.timer);
  }

  stateOf(agent: string): FsmState {
    return this.fsm.get(agent)?.state ?? 'offline';
  }

  taskOf(agent: string): string | null {
    return this.fsm.get(agent)?.task ?? null;
  }

  /** An agent row with its FSM state and current task, as the dashboard, the live feed and /api/metrics list it. */
  withState<T extends { agent_id: string }>(a: T): T & { fsm_state: FsmState; current_task_id: string | null } {
    return { ...a, fsm_state: this.stateOf(a.agent_id), current_task_id: this.taskOf(a.agent_id) };
  }

  sinceOf(agent: string): number | null {
    return this.fsm.get(agent)?.since ?? null;
  }

  flagsOf(agent: string): string[] {
    return this.fsm.get(agent)?.flags ?? [];
  }

  counts(): Record<FsmState, number> {
    const out: Record<FsmState, number> = { idle: 0, assigned: 0, working: 0, blocked: 0, offline: 0 };
    for (const f of this.fsm.values()) out[f.state]++;
    return out;
  }

  private set(agent: string, state: FsmState, task: string | null): AgentFsm {
    let f = this.fsm.get(agent);
    if (!f) {
      f = { state, task, since: Date.now(), timer: null, cooldownUntil: 0, flags: [], capabilities: [] };
      this.fsm.set(agent, f);
    }
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    if (f.state !== state || f.task !== task) {
      this.d.log.debug({ agent_id: agent, from: f.state, to: state, task_id: task }, 'agent fsm');
      f.since = Date.now();
      this.onAgent?.(agent);
    }
    f.state = state;
    f.task = task;
    if (state === 'assigned' && task) {
      f.timer = setTimeout(() => this.acceptTimeout(agent, task), this.d.timers.acceptTimeoutMs);
      f.timer.unref();
    }
    return f;
  }

  /** An agent is idle again: clears its cooldown and flags, and offers it work. */
  idle(agent: string): void {
    if (!this.d.fleet.isOnline(agent)) return;
    const f = this.set(agent, 'idle', null);
    f.cooldownUntil = 0;
    this.kick();
  }

  /** The agent whose task this was becomes idle, if the FSM still pointed at it. */
  release(agent: string | null, taskId: string): void {
    if (agent && this.fsm.get(agent)?.task === taskId) this.idle(agent);
  }

  working(agent: string, taskId: string): void {
    const f = this.set(agent, 'working', taskId);
    f.cooldownUntil = 0;
  }

  accepted(agent: string, taskId: string): void {
    const f = this.fsm.get(agent);
    // an assignment under a second old has just set updated_at: no write needed on the hot path
    if (!f || f.task !== taskId || Date.now() - f.since > 1000) this.touch(taskId);
    if (f?.task === taskId && f.state === 'assigned') this.working(agent, taskId);
  }

  /**
   * The agent finishing `taskId` as a scheduling candidate for its next task,
   * when it is this agent's current task and nothing holds the agent back.
   */
  offerFor(conn: Connection, taskId: string): { agent_id: string; capabilities: string[] } | null {
    const agent = conn.agentId as string;
    const f = this.fsm.get(agent);
    if (!f || f.task !== taskId || this.d.fleet.local(agent) !== conn) return null;
    if (this.d.violations.recentlyViolated(agent, Date.now())) return null;
    return { agent_id: agent, capabilities: conn.capabilities };
  }

  /** After a complete/fail: push the task offered in the same transaction, else the agent goes idle. */
  finished(taskId: string, { agent, next, due }: Finished): void {
    this.lastTouch.delete(taskId);
    this.dueTimer.due(due);
    if (next && agent && this.fsm.get(agent)?.task === taskId && this.push(next)) return;
    if (next) {
      this.d.tasks
        .call('reclaim', { id: next.id, reason: 'agent_unavailable' })
        .then(() => this.kick(), logFailure(this.d.log, 'reclaim of an undeliverable offer'));
    }
    this.release(agent, taskId);
  }

  /** Sends a committed assignment; false when its agent is gone. */
  private push(t: Offered): boolean {
    const agent = t.assigned_to;
    if (!this.d.fleet.send(agent, t.frame)) return false;
    this.set(agent, 'assigned', t.id);
    this.d.log.info({ agent_id: agent, task_id: t.id, generation: t.generation }, 'task assigned');
    return true;
  }

  /** A state report ends a task_rejected cooldown (§9.27) of an agent that holds no task. */
  reported(agent: string): void {
    const f = this.fsm.get(agent);
    if (f?.state === 'idle' && f.cooldownUntil > 0 && f.cooldownUntil !== Number.POSITIVE_INFINITY) this.idle(agent);
  }

  rejected(agent: string): void {
    const f = this.set(agent, 'idle', null);
    f.cooldownUntil = Date.now() + this.d.timers.rejectCooldownMs;
    setTimeout(() => this.kick(), this.d.timers.rejectCooldownMs + 5).unref();
    this.kick();
  }

  /** A sign of progress refreshes the task's updated_at, at most once per second per task. */
  touch(taskId: string): void {
    const now = Date.now();
    if (now - (this.lastTouch.get(taskId) ?? 0) < 1000) return;
    this.lastTouch.set(taskId, now);
    this.d.tasks
      .call('touch', { id: taskId })
      .catch((err) => this.d.log.debug({ err, task_id: taskId }, 'touch failed'));
  }

  /** An agent identified: shown idle at once, but not offered work until we know whether it still holds a task. */
  identified(conn: Connection): void {
    this.learn(conn).catch(logFailure(this.d.log, 'identify pipeline'));
  }

  /** An agent's socket ended: its assignments go back to their lanes. */
  left(agent: string): void {
    this.forget(agent).catch(logFailure(this.d.log, 'reclaim on leave'));
  }

  private async learn(conn: Connection): Promise<void> {
    const agent = conn.agentId as string;
    const f = this.set(agent, 'idle', null);
    f.cooldownUntil = Number.POSITIVE_INFINITY;
    f.capabilities = conn.capabilities;
    const mine = await this.d.tasks.call('assignedTo', { agent });
    if (this.d.fleet.local(agent) !== conn) return;
    if (mine.length) this.set(agent, 'assigned', mine[0].id).cooldownUntil = 0;
    else this.idle(agent);
  }

  private async forget(agent: string): Promise<void> {
    if (this.stopped) return;
    const f = this.fsm.get(agent);
    if (f?.timer) clearTimeout(f.timer);
    this.fsm.delete(agent);
    this.onAgent?.(agent);
    const reclaimed = await this.d.tasks.call('reclaimAgent', { agent, reason: 'agent_disconnected' });
    if (reclaimed.length) {
      this.d.log.info({ agent_id: agent, tasks: reclaimed.map((t) => t.id) }, 'tasks reclaimed from departed agent');
      this.kick();
    }
  }

  private async acceptTimeout(agent: string, taskId: string): Promise<void> {
    const f = this.fsm.get(agent);
    if (!f || f.task !== taskId || f.state !== 'assigned') return;
    f.flags = ['unresponsive'];
    this.d.log.warn({ agent_id: agent, task_id: taskId }, 'task not accepted in time: reclaimed');
    await this.d.tasks.call('reclaim', { id: taskId, reason: 'acceptance_timeout' });
    this.set(agent, 'idle', null);
    this.kick();
  }

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.pass()
      .catch((err) => this.d.log.error({ err }, 'scheduler pass failed'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const now = Date.now();
    const candidates = [];
    for (const [agent, f] of this.fsm) {
      if (f.state !== 'idle' || f.cooldownUntil > now) continue;
      if (this.d.violations.recentlyViolated(agent, now)) continue;
      if (this.d.fleet.isOnline(agent)) candidates.push({ agent_id: agent, capabilities: f.capabilities });
    }
    if (candidates.length === 0) return;
    const assigned = await this.d.tasks.call('schedule', { candidates });
    for (const t of assigned) {
      if (this.fsm.get(t.assigned_to)?.state === 'idle' && this.push(t)) continue;
      await this.d.tasks.call('reclaim', { id: t.id, reason: 'agent_unavailable' });
      this.again = true;
    }
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.lastTouch) if (now - at > 60_000) this.lastTouch.delete(id);
    const working = [...this.fsm].filter(([, f]) => f.state === 'working').map(([a]) => a);
    try {
      const r = await this.d.tasks.call('sweep', {
        connected: [...this.d.fleet.agentIds()],
        working,
        graceUntil: this.graceUntil,
      });
      for (const t of r.expired) {
        const agent = t.assigned_to;
        if (!agent) continue;
        this.d.fleet.send(agent, { type: 'task_cancelled', task_id: t.id, timestamp: Date.now() });
        this.release(agent, t.id);
      }
      for (const t of r.reclaimed) {
        const prev = t.history[0]?.details?.agent_id as string | undefined;
        if (prev) this.release(prev, t.id);
      }
      if (r.reclaimed.length || r.expired.length || r.promoted || r.removed) {
        const { promoted, removed } = r;
        this.d.log.info({ reclaimed: r.reclaimed.length, expired: r.expired.length, promoted, removed }, 'task sweep');
        this.kick();
      }
      this.dueTimer.due(r.next_due);
    } catch (err) {
      this.d.log.error({ err }, 'task sweep failed');
    }
  }
}
