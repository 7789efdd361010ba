import assert from 'node:assert/strict';
import type { FieldError } from '../../shared/schemas/validate.js';
import type { TestClient } from './client.js';

/** How a field error is named in `errors[].error` (§2.3). */
export type FieldKind = FieldError['error'];

/** n nested objects: nest(0) = 1, nest(2) = {"a":{"a":1}}. A frame `{…,"payload":nest(n)}` is n + 1 levels deep. */
export const nest = (n: number): string => (n === 0 ? '1' : `{"a":${nest(n - 1)}}`);
export const big = (bytes: number) => 'y'.repeat(bytes);
export const KIB64 = 64 * 1024;

/** The socket still answers ping and stays open: bad input never breaks a connection. */
export async function stillServes(c: TestClient): Promise<void> {
  const pong = await c.request({ type: 'ping' }, 'pong');
  assert.ok(pong.timestamp > 0, 'the same socket still answers ping');
  assert.equal(c.closed, null, 'the socket stays open');
}
