import type { PauseState } from '../shared/domains/tasks.js';
import type { Db } from './env.js';

const KEY = 'paused';

/** Paused lanes (0 urgent … 3 low) and the whole-queue pause, stored in the `counts` database so a restart keeps them. */
export class LanePause {
  state: PauseState;

  constructor(private readonly counts: Db) {
    this.state = this.stored();
  }

  /** After a rollback: the pause as the store holds it. */
  reload(): void {
    this.state = this.stored();
  }

  private stored(): PauseState {
    return (this.counts.get(KEY) as PauseState | undefined) ?? { all: false, lanes: [] };
  }

  set(lane: number | null, paused: boolean): PauseState {
    const p = this.state;
    const lanes = lane === null ? p.lanes : p.lanes.filter((l) => l !== lane);
    if (lane !== null && paused) lanes.push(lane);
    this.state = { all: lane === null ? paused : p.all, lanes: lanes.sort() };
    this.counts.putSync(KEY, this.state);
    return this.state;
  }
}
