import { ErrorCode } from '../../shared/errors.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import type { ReplyType } from './frame-kinds.js';
import type { AssignedTask, ClientFrame, HubFrame, Payload, TaskView } from './frames.js';

export interface WorkerOptions {
  /** added to the agent's capabilities (the scheduler matches `needed_capabilities` against them) */
  capabilities?: string[];
  /** the hub gives an agent one task at a time */
  concurrency?: 1;
  /** at most one `task_progress` per this many ms; later calls in between send only the latest (default 1000) */
  progressIntervalMs?: number;
  /** false hands the task back untouched (`task_rejected`, no retry counted): tasks this worker is not for */
  accepts?: (task: AssignedTask) => boolean;
}

export interface TaskContext {
  readonly taskId: string;
  readonly generation: number;
  /** aborted when the task is cancelled, reassigned or reclaimed, or the client stops: the result would be refused */
  readonly signal: AbortSignal;
  /** reports progress; keeps a long task from being reclaimed as stale */
  progress(progress?: number, event?: Payload): void;
}

/** What the handler returns becomes `task_complete.result`; a throw becomes `task_failed`. */
export type TaskHandler = (task: AssignedTask, ctx: TaskContext) => Promise<Payload | undefined> | Payload | undefined;

/**
 * How a task ended for this agent: the hub's `task_ack` status, or why no
 * result was sent or taken. `stale_generation`: the assignment was reclaimed
 * (or reassigned) while the handler ran; its result was refused or withheld.
 */
export type TaskOutcomeStatus = HubFrame<'task_ack'>['status'] | OutcomeCode | 'cancelled';

/** The hub's refusals of a result that end the task for this agent (an outcome, not a failed call). */
const OUTCOME_CODES = [ErrorCode.staleGeneration, ErrorCode.invalidState, ErrorCode.taskNotFound] as const;
type OutcomeCode = (typeof OUTCOME_CODES)[number];
const isOutcomeCode = (code: string): code is OutcomeCode => (OUTCOME_CODES as readonly string[]).includes(code);

type Withheld = typeof ErrorCode.staleGeneration | 'cancelled';

export interface TaskOutcome {
  taskId: string;
  generation: number;
  status: Exclude<TaskOutcomeStatus, 'accepted'>;
  /** the handler's result, or its error text */
  result?: Payload;
  error?: string;
}

export interface WorkerHost {
  call<R extends ReplyType>(
    frame: ClientFrame,
    replies: readonly R[],
    accept: (reply: HubFrame<R>) => boolean,
  ): Promise<HubFrame<R>>;
  fire(frame: ClientFrame): Promise<void>;
  getTask(id: string): Promise<TaskView>;
  finished(o: TaskOutcome): void;
  warn(err: unknown, msg: string): void;
}

interface Run {
  task: AssignedTask;
  ctrl: AbortController;
  /** why the result must not be sent */
  withheld: Withheld | null;
  progress: { last: number; pending: ClientFrame<'task_progress'> | null; timer: ReturnType<typeof setTimeout> | null };
}

/**
 * Works the tasks the hub assigns to this agent, one at a time: accepts,
 * runs the handler, and completes or fails with the generation it was given.
 * A task whose generation went stale (a reconnect's `state_report` says
 * abort, the hub assigns it again, or it is cancelled) has its signal
 * aborted, and its result is not sent.
 */
export class TaskWorker {
  private run: Run | null = null;
  /** the same task assigned again while its stale run still winds down */
  private queued: AssignedTask | null = null;
  private stopping = false;
  private idleWaiters: Array<() => void> = [];
  /** results on their way to the hub */
  private readonly delivering = new Set<Promise<void>>();

  constructor(
    private readonly host: WorkerHost,
    private readonly handler: TaskHandler,
    private readonly o: WorkerOptions,
  ) {}

  /** The task being worked, if any. */
  get current(): AssignedTask | null {
    return this.run?.task ?? null;
  }

  /** @internal the client's: a `task_assign` arrived */
  assigned(task: AssignedTask): void {
    if (this.o.accepts && !this.o.accepts(task)) {
      void this.host.fire({ type: 'task_rejected', task_id: task.task_id, reason: 'declined' });
      return;
    }
    const r = this.run;
    if (this.stopping || (r && r.task.task_id !== task.task_id) || this.queued) {
      void this.host.fire({
        type: 'task_rejected',
        task_id: task.task_id,
        reason: this.stopping ? 'stopping' : 'busy',
      });
      return;
    }
    if (r && task.generation <= r.task.generation) return;
    if (r) {
      this.withhold(r, ErrorCode.staleGeneration);
      this.queued = task;
      this.accept(task);
      return;
    }
    this.accept(task);
    this.start(task);
  }

  /** @internal the client's: a `task_cancelled` arrived */
  cancelled(taskId: string): void {
    if (this.run?.task.task_id === taskId) this.withhold(this.run, 'cancelled');
    if (this.queued?.task_id === taskId) this.queued = null;
  }

  /** @internal the client's, after a reconnect: is the task still ours? (§9.8) The hub answers continue or abort. */
  reconnected(): void {
    const r = this.run;
    if (!r || r.withheld) return;
    const { task } = r;
    this.host
      .call(
        {
          type: 'state_report',
          task_id: task.task_id,
          generation: task.generation,
          status: 'working',
          assigned_at: task.assigned_at,
        },
        ['state_report_ack'],
        (ack) => ack.task_id === task.task_id,
      )
      .then((ack) => {
        if (ack.action === 'abort' && this.run === r) this.withhold(r, ErrorCode.staleGeneration);
      })
      .catch((err) => this.host.warn(err, 'state_report failed'));
  }

  /** Takes no more tasks; resolves when the current one has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.run && this.delivering.size === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private wakeIfIdle(): void {
    if (!this.run && this.delivering.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** @internal the client's: it stopped, nothing can be sent any more */
  abort(): void {
    this.stopping = true;
    this.queued = null;
    if (this.run) this.withhold(this.run, 'cancelled');
  }

  private accept(task: AssignedTask): void {
    this.host
      .call({ type: 'task_accepted', task_id: task.task_id }, ['task_ack'], (a) => a.task_id === task.task_id)
      .catch((err) => this.host.warn(err, 'task_accepted failed'));
  }

  private start(task: AssignedTask): void {
    const run: Run = {
      task,
      ctrl: new AbortController(),
      withheld: null,
      progress: { last: 0, pending: null, timer: null },
    };
    this.run = run;
    const ctx: TaskContext = {
      taskId: task.task_id,
      generation: task.generation,
      signal: run.ctrl.signal,
      progress: (progress, event) =>
        this.progress(run, { type: 'task_progress', task_id: task.task_id, progress, execution_event: event }),
    };
    Promise.resolve()
      .then(() => this.handler(task, ctx))
      .then(
        (result) => this.settled(run, { result: result ?? {} }),
        (err: unknown) => this.settled(run, { error: err instanceof Error ? err.message : String(err) }),
      );
  }

  /**
   * The handler returned: the agent is free at once. The hub assigns the next
   * task as soon as it has taken this result, so that assignment can arrive
   * before the result's ack has been read.
   */
  private settled(run: Run, out: { result?: Payload; error?: string }): void {
    if (this.run === run) this.run = null;
    const q = this.queued;
    this.queued = null;
    // a reassignment, accepted while the stale run wound down
    if (q && !this.stopping) this.start(q);
    const delivery = this.finish(run, out)
      .catch((err) => this.host.warn(err, 'task result not delivered'))
      .finally(() => {
        this.delivering.delete(delivery);
        this.wakeIfIdle();
      });
    this.delivering.add(delivery);
  }

  private progress(run: Run, frame: ClientFrame<'task_progress'>): void {
    if (run.withheld || this.run !== run) return;
    const p = run.progress;
    const every = this.o.progressIntervalMs ?? 1000;
    const wait = p.last + every - Date.now();
    if (wait <= 0 && !p.timer) {
      p.last = Date.now();
      void this.host.fire(frame);
      return;
    }
    p.pending = frame;
    p.timer ??= setTimeout(
      () => {
        p.timer = null;
        const f = p.pending;
        p.pending = null;
        if (f && !run.withheld && this.run === run) {
          p.last = Date.now();
          void this.host.fire(f);
        }
      },
      Math.max(0, wait),
    );
  }

  private withhold(run: Run, why: Withheld): void {
    if (run.withheld) return;
    run.withheld = why;
    run.ctrl.abort(
      new AgentComError(why === 'cancelled' ? ClientErrorCode.taskCancelled : ClientErrorCode.staleGeneration),
    );
  }

  private async finish(run: Run, out: { result?: Payload; error?: string }): Promise<void> {
    if (run.progress.timer) clearTimeout(run.progress.timer);
    const { task_id: taskId, generation } = run.task;
    const base = { taskId, generation, ...out };
    if (run.withheld) {
      this.host.finished({ ...base, status: run.withheld });
      return;
    }
    const mine = (a: HubFrame<'task_ack'>) => a.task_id === taskId && a.status !== 'accepted';
    try {
      const ack = out.error
        ? await this.host.call(
            { type: 'task_failed', task_id: taskId, generation, error: out.error.slice(0, 2000) },
            ['task_ack'],
            mine,
          )
        : await this.host.call(
            { type: 'task_complete', task_id: taskId, generation, result: out.result },
            ['task_ack'],
            mine,
          );
      this.host.finished({ ...base, status: ack.status as TaskOutcome['status'] });
    } catch (err) {
      if (!(err instanceof AgentComError) || !isOutcomeCode(err.code)) throw err;
      this.host.finished({ ...base, status: await this.outcomeOf(err.code, run, !out.error) });
    }
  }

  /**
   * A completion refused as `invalid_state` may be our own first attempt,
   * committed just before the socket dropped and sent again after: the task
   * is then completed with our generation.
   */
  private async outcomeOf(code: OutcomeCode, run: Run, completing: boolean): Promise<TaskOutcome['status']> {
    if (code !== ErrorCode.invalidState || !completing) return code;
    try {
      const t = await this.host.getTask(run.task.task_id);
      return t.status === 'completed' && t.generation === run.task.generation ? 'complete' : code;
    } catch {
      return code;
    }
  }
}
