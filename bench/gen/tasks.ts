import { nowUs } from '../util.js';
import type { BenchAgent } from './agent.js';
import { call, errorCode } from './http-client.js';
import type { Recorder } from './recorder.js';

/** Capability needs cycled over submissions; the first task agent of each worker can do them all. */
export const NEEDS = [[], ['code'], ['docs'], ['code', 'test']];

interface Meta {
  bt: number;
  ph: number;
  by: string;
}

type Done = (by: string, ph: number) => void;

interface Assigned {
  task_id: string;
  metadata?: Partial<Meta> | Record<string, unknown>;
}

/**
 * The task cycle: HTTP submit → task_assign → task_accepted + task_complete →
 * task_ack. The submit's metadata carries the stamp and the submitter, so
 * whichever socket gets the assignment can close the cycle (cycles stay
 * inside one worker through the `scope` capability every task needs).
 */
export class TaskFlow {
  private n = 0;
  private readonly inFlight = new Map<string, Meta>();

  constructor(
    private readonly apiUrl: string,
    private readonly scope: string,
    private readonly rec: Recorder,
    private readonly isOurs: (by: string) => boolean,
    private readonly done: Done,
  ) {}

  submit(agent: BenchAgent, t: number, ph: number): void {
    const body = JSON.stringify({
      description: 'bench task',
      complexity_tier: 'trivial',
      needed_capabilities: [this.scope, ...NEEDS[this.n++ % NEEDS.length]],
      metadata: { bt: Math.round(t), ph, by: agent.id },
    });
    call(`${this.apiUrl}/api/tasks`, 'POST', agent.spec.token, body).then(
      (res) => {
        const rec = this.rec;
        if (res.status === 201 || res.status === 200) {
          if (rec.measured(ph, t)) rec.record('submit', t, nowUs());
          if (ph === rec.phaseId) {
            rec.counts.acked++;
            rec.counts.ackedBy.task++;
            if (rec.inWindow(nowUs())) rec.counts.ackedInWindow++;
          }
          return;
        }
        if (ph === rec.phaseId) rec.error(errorCode(res));
        this.done(agent.id, ph);
      },
      () => {
        if (ph === this.rec.phaseId) this.rec.error('http_request_failed');
        this.done(agent.id, ph);
      },
    );
  }

  /** A task this thread submitted (a hub shared with real agents may assign others). */
  isBench(f: Assigned): boolean {
    const by = f.metadata?.by;
    return typeof by === 'string' && this.isOurs(by);
  }

  /** A cycle's assignment reached its agent: the stamp travels in the metadata. */
  begin(f: Assigned): void {
    const m = f.metadata as Meta;
    this.inFlight.set(f.task_id, { bt: Number(m.bt), ph: Number(m.ph), by: m.by });
  }

  /** The raw path: accept and complete at once, without waiting for the acceptance's ack. */
  onAssign(agent: BenchAgent, f: Assigned & { generation: number }): void {
    if (!this.isBench(f)) {
      // not a bench task: hand it back untouched
      agent.send(JSON.stringify({ type: 'task_rejected', task_id: f.task_id, reason: 'busy' }));
      return;
    }
    this.begin(f);
    agent.send(`{"type":"task_accepted","task_id":${JSON.stringify(f.task_id)}}`);
    agent.send(
      JSON.stringify({
        type: 'task_complete',
        task_id: f.task_id,
        generation: f.generation,
        result: { status: 'success' },
      }),
    );
  }

  onAck(f: { task_id: string; status: string }): void {
    if (f.status === 'accepted') return;
    const m = this.inFlight.get(f.task_id);
    if (!m) return;
    this.inFlight.delete(f.task_id);
    const rec = this.rec;
    const now = nowUs();
    if (f.status !== 'complete') {
      if (m.ph === rec.phaseId) rec.error(`task_${f.status}`);
    } else if (m.ph === rec.phaseId) {
      rec.counts.cycles++;
      if (rec.measured(m.ph, m.bt)) rec.record('cycle', m.bt, now);
      if (rec.inWindow(now)) rec.counts.cyclesInWindow++;
    }
    this.done(m.by, m.ph);
  }

  /** `task_complete_failed: <reason>` and the like: the cycle is over, counted as an error. */
  onError(f: { error: string; task_id?: string }): boolean {
    if (!f.task_id || !this.inFlight.has(f.task_id)) return false;
    const m = this.inFlight.get(f.task_id) as Meta;
    this.inFlight.delete(f.task_id);
    if (m.ph === this.rec.phaseId) this.rec.error(f.error.replace(/\s+/g, ''));
    this.done(m.by, m.ph);
    return true;
  }

  get open(): number {
    return this.inFlight.size;
  }
}
