import { after, before } from 'node:test';
import { until as poll, type TestClient } from './client.js';
import { api, startTestHub, type TestHub, tokenFor, waitOffline, whitelist } from './hub.js';

/** Waits for task suites are generous (other suites share the cores); no assert measures time. */
export const WAIT = 10_000;

/** client.ts's `until`, waiting `WAIT` unless told. */
export const until = <T>(probe: () => Promise<T | undefined | false>, what: string, ms = WAIT): Promise<T> =>
  poll(probe, what, ms);

export interface Ctx {
  hub: TestHub;
  tok: Record<string, string>;
}

/** A hub for the suite (started before its tests, stopped after) with a whitelisted token per agent. */
export function harness(overrides: Parameters<typeof startTestHub>[0], agents: string[]): Ctx {
  const ctx = { tok: {} } as Ctx;
  before(async () => {
    ctx.hub = await startTestHub(overrides);
    for (const a of agents) ctx.tok[a] = await tokenFor(ctx.hub, a);
    await whitelist(ctx.hub, ...agents);
  });
  after(() => ctx.hub.stop());
  return ctx;
}

/** Round trip on the socket: every reply to frames sent before it has arrived. */
export async function settle(c: TestClient): Promise<void> {
  await c.request({ type: 'ping' }, 'pong', undefined, WAIT);
}

export const submit = (ctx: Ctx, by: string, body: object, headers?: Record<string, string>) =>
  api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok[by], body, headers });
export const getTask = (ctx: Ctx, id: string, by = 'sub') =>
  api(ctx.hub.url, 'GET', `/api/tasks/${id}`, { token: ctx.tok[by] });
export const stateOf = async (ctx: Ctx, agent: string) =>
  (await api(ctx.hub.url, 'GET', `/api/agents/${agent}/state`, { token: ctx.tok.sub })).body;

/** `task_accepted` for an assignment; resolves with its `task_ack`. */
export const accept = (c: TestClient, a: { task_id: string }) =>
  c.request({ type: 'task_accepted', task_id: a.task_id }, 'task_ack', undefined, WAIT);

/** `task_complete` for an assignment at its generation; resolves with its `task_ack`. */
export const complete = (c: TestClient, a: { task_id: string; generation: number }) =>
  c.request({ type: 'task_complete', task_id: a.task_id, generation: a.generation }, 'task_ack', undefined, WAIT);

/** A frame the hub refuses; resolves with its `error` frame. */
export const refusal = (c: TestClient, frame: object) => c.request(frame, 'error', undefined, WAIT);

/** Closes the sockets and waits until the hub has let the agents go. */
export async function leave(ctx: Ctx, ...pairs: Array<[TestClient, string]>): Promise<void> {
  for (const [c] of pairs) c.close();
  for (const [, id] of pairs) await waitOffline(ctx.hub, id, WAIT);
}

/** Accepts and completes every assignment at once, recording what it was given. */
export function autoWorker(c: TestClient, got: string[]): void {
  c.ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    if (f.type !== 'task_assign') return;
    got.push(f.task_id);
    c.send({ type: 'task_accepted', task_id: f.task_id });
    c.send({ type: 'task_complete', task_id: f.task_id, generation: f.generation, result: { status: 'success' } });
  });
}

/** A task's place in the queue: its lane, then its age. */
export const keyOf = (t: { priority: number; created_at: number }) => [t.priority, t.created_at] as const;
/** `a` is ahead of (or level with) `b` in the queue. */
export const inLaneOrder = (a: readonly [number, number], b: readonly [number, number]) =>
  a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
