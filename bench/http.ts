import { mapLimit } from './util.js';

/** A hub feature the scenario needs answers 404: the scenario cannot run on this hub yet. */
export class FeatureMissingError extends Error {
  constructor(
    readonly feature: string,
    detail: string,
  ) {
    super(`the hub has no ${feature} feature yet (${detail}); this scenario cannot run against it`);
  }
}

export interface HttpReply {
  status: number;
  body: any;
}

export async function http(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

function expect(r: HttpReply, ok: number[], what: string): HttpReply {
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r;
}

/** Admin-port calls the bench makes: tokens and the rate-limit whitelist (PROTOCOL.md §9.4). It never onboards. */
export class AdminClient {
  constructor(
    readonly adminUrl: string,
    private readonly adminToken: string,
  ) {}

  private call(method: string, path: string, body?: unknown) {
    return http(this.adminUrl, method, path, { token: this.adminToken, body });
  }

  /** `POST /admin/tokens {agent_id}` for each agent, a few at a time. */
  async issueTokens(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await mapLimit(ids, 32, async (agent_id) => {
      const r = expect(await this.call('POST', '/admin/tokens', { agent_id }), [201], `POST /admin/tokens ${agent_id}`);
      out.set(agent_id, r.body.token as string);
    });
    return out;
  }

  async whitelist(): Promise<string[]> {
    const r = expect(await this.call('GET', '/admin/rate-limits/whitelist'), [200], 'GET whitelist');
    return (r.body.whitelist ?? []) as string[];
  }

  /** `PUT /admin/rate-limits/whitelist {agent_ids}`: replaces the list, so callers pass the union. */
  async setWhitelist(ids: string[]): Promise<void> {
    expect(await this.call('PUT', '/admin/rate-limits/whitelist', { agent_ids: ids }), [200], 'PUT whitelist');
  }

  async revokeTokens(ids: string[]): Promise<void> {
    await mapLimit(ids, 16, (id) => this.call('DELETE', `/admin/tokens/${encodeURIComponent(id)}`));
  }

  /** A domain's file size and record counts from `GET /admin/storage-health` (each table row carries its file's size). */
  async storage(domain: string): Promise<{ bytes: number; records: Record<string, number> }> {
    const r = expect(await this.call('GET', '/admin/storage-health'), [200], 'GET /admin/storage-health');
    const rows = (
      (r.body.tables ?? []) as Array<{ table: string; record_count: number; file_size_bytes: number }>
    ).filter((t) => t.table.startsWith(`${domain}.`));
    const records = Object.fromEntries(rows.map((t) => [t.table.slice(domain.length + 1), t.record_count]));
    return { bytes: rows[0]?.file_size_bytes ?? 0, records };
  }

  /** A maintenance call (`POST /admin/backup`, `POST /admin/compact/:table`): its reply, and its wall time in ms. */
  async maintain(path: string): Promise<{ ms: number; body: any }> {
    const t0 = performance.now();
    const r = expect(await this.call('POST', path), [200], `POST ${path}`);
    return { ms: Math.round(performance.now() - t0), body: r.body };
  }
}

/** `POST /api/channels {name}` with an agent token; 404 means the hub has no channels yet. */
export async function createChannel(apiUrl: string, token: string, name: string): Promise<void> {
  const r = await http(apiUrl, 'POST', '/api/channels', { token, body: { name } });
  if (r.status === 404) throw new FeatureMissingError('channels', 'POST /api/channels answered 404');
  expect(r, [201, 409], 'POST /api/channels');
}

/** An empty `POST /api/tasks` must be refused with 422, not 404, if the hub has tasks at all. */
export async function probeTasks(apiUrl: string, token: string): Promise<void> {
  const r = await http(apiUrl, 'POST', '/api/tasks', { token, body: {} });
  if (r.status === 404) throw new FeatureMissingError('tasks', 'POST /api/tasks answered 404');
}
