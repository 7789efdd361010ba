/**
 * The WebSocket the client speaks through: the `ws` package on Node (it can
 * pause reading, which the client's backpressure uses), the global
 * `WebSocket` elsewhere (browsers, Deno, Bun), or a constructor the caller
 * passes. Only the standard event API is used, so any of them fits.
 */

export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** `ws` only: stop and restart reading from the TCP socket */
  pause?(): void;
  resume?(): void;
  /** `ws` only: drop the connection without a closing handshake */
  terminate?(): void;
}

/** A WebSocket constructor: `ws`'s takes an options object, the standard one ignores it. */
export type SocketFactory = new (url: string, protocols?: undefined, options?: Record<string, unknown>) => SocketLike;

export const OPEN = 1;

const isNode = () =>
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

let cached: Promise<SocketFactory> | null = null;

/** Node gets `ws` (loaded on first use, so browser bundles never need it); other runtimes their global. */
export function defaultSocketFactory(): Promise<SocketFactory> {
  cached ??= isNode()
    ? import('ws').then((m) => m.WebSocket as unknown as SocketFactory)
    : Promise.resolve((globalThis as { WebSocket?: SocketFactory }).WebSocket as SocketFactory);
  return cached;
}

/**
 * Opens a socket. `ws` is told not to offer compression (the hub never takes
 * it) and to give up on a handshake that hangs.
 */
export function openSocket(Socket: SocketFactory, url: string, handshakeTimeoutMs: number): SocketLike {
  return new Socket(url, undefined, { perMessageDeflate: false, handshakeTimeout: handshakeTimeoutMs });
}
