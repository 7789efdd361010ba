import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { channels, mailboxAck, mailboxes, setWhitelist, submitTask, tokens, whitelist } from './baseline-state.js';

/** The HTTP routes the bench calls, answered from memory (admin routes share the one port). */

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<any> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      try {
        resolve(parts.length ? JSON.parse(Buffer.concat(parts).toString()) : {});
      } catch {
        resolve({});
      }
    });
  });
}

function agentOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization ?? '';
  return h.startsWith('Bearer ') ? (tokens.get(h.slice(7)) ?? null) : null;
}

export async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname.replace(/^\/api\/admin\//, '/admin/');
  const body = req.method === 'GET' ? {} : await readBody(req);
  const key = `${req.method} ${path}`;

  if (key === 'GET /health') return reply(res, 200, { status: 'ok', service: 'agent_com', baseline: true });
  if (key === 'POST /admin/tokens') {
    const token = randomBytes(32).toString('hex');
    tokens.set(token, String(body.agent_id));
    return reply(res, 201, { agent_id: body.agent_id, token });
  }
  if (key === 'GET /admin/rate-limits/whitelist') return reply(res, 200, { whitelist });
  if (key === 'PUT /admin/rate-limits/whitelist') {
    setWhitelist(body.agent_ids ?? []);
    return reply(res, 200, { status: 'updated', whitelist });
  }
  if (req.method === 'DELETE' && path.startsWith('/admin/tokens/')) {
    const agent = decodeURIComponent(path.slice('/admin/tokens/'.length));
    for (const [t, a] of tokens) if (a === agent) tokens.delete(t);
    return reply(res, 200, { status: 'revoked', agent_id: agent });
  }

  const agent = agentOf(req);
  if (!agent) return reply(res, 401, { error: 'unauthorized' });
  if (key === 'POST /api/channels') {
    const name = String(body.name ?? '');
    if (channels.has(name)) return reply(res, 409, { error: 'channel_exists' });
    channels.set(name, { seq: 0, subs: new Set() });
    return reply(res, 201, { status: 'created', channel: name });
  }
  if (key === 'POST /api/tasks') {
    if (!body.description) return reply(res, 422, { error: 'validation_failed', errors: [] });
    const t = submitTask(body);
    return reply(res, 201, { status: 'queued', task_id: t.id, priority: 2, created_at: Date.now() });
  }
  const mbox = /^\/api\/mailbox\/([^/]+)(\/ack)?$/.exec(path);
  if (mbox && decodeURIComponent(mbox[1]) === agent) {
    if (req.method === 'GET' && !mbox[2]) {
      const since = Number(url.searchParams.get('since') ?? 0);
      const messages = (mailboxes.get(agent) ?? []).filter((m) => m.seq > since).slice(0, 1000);
      const last_seq = messages.length ? messages[messages.length - 1].seq : since;
      return reply(res, 200, { agent_id: agent, messages, last_seq, count: messages.length });
    }
    if (req.method === 'POST' && mbox[2]) {
      mailboxAck(agent, Number(body.seq));
      return reply(res, 200, { status: 'acked', up_to: body.seq });
    }
  }
  return reply(res, 404, { error: 'not_found' });
}
