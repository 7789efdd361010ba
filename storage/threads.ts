import type { Msg } from '../shared/schemas/records.js';
import { count, type Db, first } from './env.js';

interface ThreadRec {
  msg: Msg;
  root: string;
}

const MAX_WALK = 10_000;

/**
 * `reply_to` threads (§9.5): replies and the parents they point at are kept
 * apart from global history so a thread outlives the history cap; at most
 * `threadMax` messages per thread. `fromHistory` finds a parent that was never
 * a reply itself.
 */
export class ThreadStore {
  constructor(
    private readonly db: { threads: Db; threadIndex: Db; replies: Db; threadCount: Db },
    private readonly threadMax: number,
    private readonly fromHistory: (id: string) => Msg | undefined,
  ) {}

  count(): number {
    return count(this.db.threads);
  }

  private find(id: string): Msg | undefined {
    const t = this.db.threads.get(id) as ThreadRec | undefined;
    return t ? t.msg : this.fromHistory(id);
  }

  /** Walks reply_to links up; an unknown id is its own root; a cycle ends the walk. */
  rootOf(id: string): string {
    const seen = new Set<string>();
    let cur = id;
    while (!seen.has(cur) && seen.size < MAX_WALK) {
      seen.add(cur);
      const parent = this.find(cur)?.reply_to;
      if (!parent || seen.has(parent)) return cur;
      cur = parent;
    }
    return cur;
  }

  /** Indexes a message that has a `reply_to`. */
  add(msg: Msg): void {
    const parentId = msg.reply_to as string;
    if (!this.db.threads.doesExist(parentId)) {
      const parent = this.find(parentId);
      if (parent) this.db.threads.putSync(parentId, { msg: parent, root: this.rootOf(parentId) } satisfies ThreadRec);
    }
    const root = this.rootOf(parentId);
    this.db.threads.putSync(msg.id, { msg, root } satisfies ThreadRec);
    this.db.threadIndex.putSync([root, msg.timestamp, msg.id], 1);
    this.db.replies.putSync([parentId, msg.timestamp, msg.id], 1);
    const n = ((this.db.threadCount.get(root) as number | undefined) ?? 0) + 1;
    if (n <= this.threadMax) {
      this.db.threadCount.putSync(root, n);
      return;
    }
    const oldest = first(
      this.db.threadIndex.getRange({ start: [root], end: [root, Number.MAX_SAFE_INTEGER], limit: 1 }),
    );
    if (oldest) this.db.threadIndex.removeSync(oldest.key);
    this.db.threadCount.putSync(root, n - 1);
  }

  /** Root plus descendants by timestamp. */
  thread(id: string): { root: string; messages: Msg[] } {
    const root = this.rootOf(id);
    const messages: Msg[] = [];
    const rootMsg = this.find(root);
    if (rootMsg) messages.push(rootMsg);
    for (const { key } of this.db.threadIndex.getRange({ start: [root], end: [root, Number.MAX_SAFE_INTEGER] })) {
      const m = this.find((key as [string, number, string])[2]);
      if (m && m.id !== root) messages.push(m);
    }
    return { root, messages };
  }

  replies(id: string): Msg[] {
    const out: Msg[] = [];
    for (const { key } of this.db.replies.getRange({ start: [id], end: [id, Number.MAX_SAFE_INTEGER] })) {
      const m = this.find((key as [string, number, string])[2]);
      if (m) out.push(m);
    }
    return out;
  }
}
