/** One watcher of the feed: an SSE response on the admin port. */
export interface Viewer {
  /** false once the socket is gone */
  write(text: string): boolean;
  /** bytes written and not yet sent */
  buffered(): number;
  close(): void;
}

/** What the dashboard sees change, by section and key; a null value means the key went away. */
export type Section =
  | 'agents'
  | 'tasks'
  | 'figures'
  | 'alerts'
  | 'channels'
  | 'limited'
  | 'backups'
  | 'storage'
  | 'counters';

export interface FeedOptions {
  /** changes are gathered this long and sent as one event */
  flushMs: number;
  /** a viewer with more than this unsent is cut off (it reconnects and gets a fresh snapshot) */
  bufferMax: number;
  /** the current value of a key published with `touch` (read once per flush, not per viewer) */
  resolve: Partial<Record<Section, (key: string) => unknown>>;
  /** every second while someone watches: extra fields of that second's event (sparkline point, counters) */
  tick: () => Record<string, unknown>;
  /** someone started or stopped watching */
  watching: (on: boolean) => void;
}

interface Watcher {
  v: Viewer;
  /** deltas encoded while its snapshot was being built, sent right after it */
  held: string[] | null;
}

/** Deltas held per viewer while its snapshot is built; beyond that it starts over. */
const HELD_MAX = 256;
const KEEPALIVE_MS = 15_000;

/**
 * The live dashboard's fan-out (SSE on the admin port): a snapshot per
 * viewer when it connects, then deltas. Components publish changes where
 * they happen (O(1), nothing at all while nobody watches); each flush
 * coalesces them by key, encodes ONE event and writes it to every viewer.
 * A viewer that does not read is cut off at `bufferMax`, so the hub's memory
 * never grows with a stalled browser.
 */
export class LiveFeed {
  private readonly viewers = new Set<Watcher>();
  private pending = new Map<Section, Map<string, unknown>>();
  private flushTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private seq = 0;
  /** viewers cut off for not reading */
  dropped = 0;

  constructor(private readonly o: FeedOptions) {}

  get watched(): boolean {
    return this.viewers.size > 0;
  }

  /** `key` of `section` is now `value` (null: gone). */
  set(section: Section, key: string, value: unknown): void {
    if (this.viewers.size === 0) return;
    let m = this.pending.get(section);
    if (!m) {
      m = new Map();
      this.pending.set(section, m);
    }
    m.set(key, value);
    this.flushTimer ??= setTimeout(() => this.flush(), this.o.flushMs).unref();
  }

  /** `key` of `section` changed; its value is read (`resolve`) when the change is sent. */
  touch(section: Section, key: string): void {
    this.set(section, key, RESOLVE);
  }

  /** A new viewer: it gets `snapshot()` first, then every delta from the moment it was added. */
  async add(v: Viewer, snapshot: () => Promise<unknown>): Promise<Watcher> {
    const w: Watcher = { v, held: [] };
    this.viewers.add(w);
    if (this.viewers.size === 1) this.started();
    try {
      const snap = await snapshot();
      if (!this.viewers.has(w)) return w;
      v.write(event('snapshot', { seq: this.seq, ...(snap as object) }));
      for (const text of w.held ?? []) v.write(text);
      w.held = null;
    } catch (err) {
      v.write(event('error', { error: String(err) }));
      this.remove(w);
    }
    return w;
  }

  remove(w: Watcher): void {
    if (!this.viewers.delete(w)) return;
    w.v.close();
    if (this.viewers.size === 0) this.stopped();
  }

  private started(): void {
    this.o.watching(true);
    this.tickTimer = setInterval(() => this.tick(), 1000).unref();
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), KEEPALIVE_MS).unref();
  }

  private stopped(): void {
    this.o.watching(false);
    for (const t of [this.tickTimer, this.keepAlive, this.flushTimer]) if (t) clearTimeout(t);
    this.tickTimer = this.keepAlive = this.flushTimer = null;
    this.pending.clear();
  }

  private tick(): void {
    this.flush(this.o.tick());
  }

  private flush(extra: Record<string, unknown> = {}): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const changes: Record<string, Record<string, unknown>> = {};
    for (const [section, m] of this.pending) {
      const resolve = this.o.resolve[section];
      const out: Record<string, unknown> = {};
      for (const [k, v] of m) out[k] = v === RESOLVE ? (resolve?.(k) ?? null) : v;
      changes[section] = out;
    }
    this.pending = new Map();
    if (Object.keys(changes).length === 0 && Object.keys(extra).length === 0) return;
    this.broadcast(event('delta', { seq: ++this.seq, at: Date.now(), changes, ...extra }));
  }

  private broadcast(text: string): void {
    for (const w of this.viewers) {
      if (w.held) {
        if (w.held.length < HELD_MAX) w.held.push(text);
        else this.remove(w);
        continue;
      }
      if (w.v.buffered() > this.o.bufferMax || !w.v.write(text)) {
        this.dropped++;
        this.remove(w);
      }
    }
  }

  close(): void {
    for (const w of [...this.viewers]) this.remove(w);
  }
}

const RESOLVE = Symbol('resolve');

/** One server-sent event; the data is one line of JSON (JSON never holds a raw newline). */
function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
