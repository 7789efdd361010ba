import { Agent, request } from 'node:http';

/**
 * A lean HTTP/1.1 client for the generator's hot paths (task submits,
 * mailbox polls): node:http over a keep-alive pool costs the generator much
 * less CPU per request than fetch, which matters when it must not be the
 * bottleneck.
 */
// no socket cap: a capped pool queues submits inside the generator, which the submit latency then counts
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

export interface HttpResult {
  status: number;
  text: string;
}

export function call(url: string, method: string, token: string, body?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = request(url, { method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The `error` code of a JSON error body, else `http_<status>`. */
export function errorCode(r: HttpResult, prefix = 'http'): string {
  try {
    const e = (JSON.parse(r.text) as { error?: unknown }).error;
    if (typeof e === 'string') return e;
  } catch {}
  return `${prefix}_${r.status}`;
}
