import { connect } from 'node:net';

/**
 * A request sent over a raw socket: `head` now, `rest` when the test says so;
 * resolves with everything that came back once the hub closes the socket (or
 * it is destroyed after `ms`).
 */
export function rawRequest(port: number, head: string, ms?: number) {
  const sock = connect(port, '127.0.0.1');
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    text += d;
  });
  sock.on('error', () => {});
  if (ms !== undefined) setTimeout(() => sock.destroy(), ms).unref();
  const ended = new Promise<string>((resolve) => sock.on('close', () => resolve(text)));
  const opened = new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  return {
    async start() {
      await opened;
      sock.write(head);
    },
    finish(rest: string) {
      sock.write(rest);
      return ended;
    },
  };
}

/** Sends `data` on a raw socket; resolves with what came back once the hub closes it (or after 5 s). */
export async function rawExchange(port: number, data: string): Promise<string> {
  const req = rawRequest(port, data, 5000);
  await req.start();
  return req.finish('');
}
