import assert from 'node:assert/strict';
import * as v from 'valibot';
import { WebSocket } from 'ws';
import { type AgentComClient, type ClientEvents, type ClientOptions, connect } from '../../client/src/index.js';
import type { SocketFactory } from '../../client/src/socket.js';
import { type HubFrameType, hubFrameSchemas } from '../../shared/schemas/hub-frames.js';
import { type TestHub, tokenFor, whitelist } from './hub.js';

export { until } from './client.js';

/**
 * Frames the hub sent to SDK clients in this test file. Every one is checked
 * against its schema in shared/schemas/hub-frames.ts, field for field: a
 * field the hub sends but the schema lacks is a failure.
 */
export const tapped: Array<{ type: string; text: string }> = [];

/** `ws`'s WebSocket, recording every frame it receives. */
export const TapSocket = class extends WebSocket {
  constructor(url: string, protocols?: undefined, options?: Record<string, unknown>) {
    super(url, protocols, options);
    this.on('message', (data: Buffer) => {
      const text = data.toString();
      tapped.push({ type: (JSON.parse(text) as { type: string }).type, text });
    });
  }
} as unknown as SocketFactory;

/** Asserts each tapped frame is exactly what its schema describes (valibot strips unknown keys). */
export function assertTappedFramesMatchSchemas(): Set<string> {
  const seen = new Set<string>();
  for (const { type, text } of tapped) {
    const schema = hubFrameSchemas[type as HubFrameType];
    assert.ok(schema, `no schema for hub frame "${type}"`);
    const f = JSON.parse(text);
    const r = v.safeParse(schema, f);
    assert.ok(r.success, `${type} does not match its schema: ${text} ${JSON.stringify(r.issues?.[0]?.message)}`);
    assert.deepEqual(r.output, f, `${type} has fields its schema does not list: ${text}`);
    seen.add(type);
  }
  return seen;
}

/** A token for `id`, whitelisted (unless `limited`), and a connected SDK client. */
export async function agent(
  hub: { wsUrl: string } & Partial<TestHub>,
  id: string,
  opts: Partial<ClientOptions> & { token?: string; limited?: boolean } = {},
): Promise<AgentComClient> {
  const token = opts.token ?? (await tokenFor(hub as TestHub, id));
  if (!opts.limited && !opts.token) await whitelist(hub as TestHub, id);
  return connect({ url: hub.wsUrl, agentId: id, token, WebSocket: TapSocket, ...opts });
}

/** Resolves with the next `n` values of `event` that pass `pred`. */
export function collect<K extends keyof ClientEvents>(
  c: AgentComClient,
  event: K,
  n: number,
  pred: (x: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Array<ClientEvents[K]>> {
  const out: Array<ClientEvents[K]> = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${n} ${String(event)} events; got ${out.length}`));
    }, timeoutMs);
    const off = c.on(event, (x) => {
      if (!pred(x)) return;
      out.push(x);
      if (out.length === n) {
        clearTimeout(t);
        off();
        resolve(out);
      }
    });
  });
}
