import WebSocket from 'ws';

/**
 * A scripted agent: a real WebSocket that records every frame and waits for
 * the ones a test expects. It stays raw on purpose: the tests look at exactly
 * what the client SDK (client/) hides (each frame and its order, malformed
 * input, close codes as sent); the SDK's own tests start SDK agents through
 * test/helpers/sdk.ts.
 */
export class TestClient {
  readonly frames: any[] = [];
  private waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void }> = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let f: any;
      try {
        f = JSON.parse(String(data));
      } catch {
        f = { raw: String(data) };
      }
      this.frames.push(f);
      const w = this.waiters.find((x) => x.pred(f));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(f);
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const r of this.closeWaiters) r(this.closed);
    });
    ws.on('error', () => {});
  }

  static open(url: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** The first frame (already received or still to come, after `from`) matching type and predicate. */
  next(type: string, pred: (f: any) => boolean = () => true, timeoutMs = 5000, from = 0): Promise<any> {
    const match = (f: any) => f.type === type && pred(f);
    const seen = this.frames.slice(from).find(match);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${type}; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      const done = (f: any) => {
        clearTimeout(t);
        this.frames.splice(this.frames.indexOf(f), 1);
        resolve(f);
      };
      this.waiters.push({ pred: match, resolve: done });
    });
  }

  /** Sends a frame and waits for the reply of `type`. */
  async request(frame: unknown, type: string, pred?: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
    const p = this.next(type, pred, timeoutMs);
    this.send(frame);
    return p;
  }

  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a socket and identifies; resolves once `identified` arrives. */
export async function connectAgent(
  wsUrl: string,
  agentId: string,
  token: string,
  extra: object = {},
): Promise<TestClient> {
  const c = await TestClient.open(wsUrl);
  const reply = await c.request({ type: 'identify', agent_id: agentId, token, ...extra }, 'identified');
  if (reply.agent_id !== agentId) throw new Error('identify failed');
  return c;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives something truthy (returned), or fails naming `what`. */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(25);
  }
}

/** Pauses or resumes reading on the client's side of a socket (the kernel buffers fill, then the hub's). */
export function reading(c: TestClient, on: boolean): void {
  const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  if (on) socket.resume();
  else socket.pause();
}
