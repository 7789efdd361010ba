import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocketServer } from 'ws';
import { handleHttp } from './baseline-http.js';
import {
  agentIdle,
  agentLeft,
  completeTask,
  mailboxAck,
  online,
  publish,
  route,
  type Sock,
  send,
  subscribe,
  tokens,
} from './baseline-state.js';

/**
 * The bench's yardstick: a raw `ws` router with the hub's wire and nothing
 * else (no persistence, no validation, no rate limits, no worker threads).
 * Run: `node --import tsx bench/baseline.ts [--port N]`. It prints the hub's
 * "hub listening" line so the bench starts it the same way.
 */

type Frame = Record<string, unknown>;
const error = (code: string, extra: Frame = {}): Frame => ({ type: 'error', error: code, ...extra });

function identify(s: Sock, f: Record<string, any>): Frame {
  if (tokens.get(f.token) !== f.agent_id) return error('invalid_token');
  const prev = online.get(f.agent_id);
  if (prev && prev !== s) prev.ws.close(4001, 'replaced');
  s.agent = f.agent_id;
  s.capabilities = f.capabilities ?? [];
  online.set(f.agent_id, s);
  return { type: 'identified', agent_id: f.agent_id };
}

/** The reply to one frame (null: none), after its effects (deliveries, assignments) are sent. */
function answer(agent: string, f: Record<string, any>): Frame | null {
  switch (f.type) {
    case 'message':
      return { type: 'message_sent', id: route(agent, f) };
    case 'channel_publish': {
      const r = publish(agent, f);
      return r ? { type: 'channel_published', ...r } : error('channel_not_found');
    }
    case 'channel_subscribe': {
      const r = subscribe(agent, f.channel);
      if (r === 'missing') return error('channel_not_found', { channel: f.channel });
      return {
        type: 'channel_subscribed',
        channel: f.channel,
        ...(r === 'already' ? { note: 'already_subscribed' } : {}),
      };
    }
    case 'task_accepted':
      return { type: 'task_ack', task_id: f.task_id, status: 'accepted' };
    case 'task_complete': {
      const err = completeTask(agent, f);
      if (err) return error(`task_complete_failed: ${err}`, { task_id: f.task_id });
      return { type: 'task_ack', task_id: f.task_id, status: 'complete' };
    }
    case 'task_rejected':
      agentIdle(agent);
      return null;
    case 'mailbox_ack':
      mailboxAck(agent, Number(f.seq));
      return { type: 'mailbox_acked', up_to: f.seq };
    case 'ping':
      return { type: 'pong', timestamp: Date.now() };
    default:
      return null;
  }
}

function onFrame(s: Sock, data: RawData): void {
  let f: Record<string, any>;
  try {
    f = JSON.parse(data.toString());
  } catch {
    send(s, JSON.stringify(error('invalid_json')));
    return;
  }
  let out: Frame | null;
  if (f.type === 'identify') out = identify(s, f);
  else if (!s.agent) out = error('not_identified');
  else out = answer(s.agent, f);
  if (out) send(s, JSON.stringify(out));
  if (f.type === 'identify' && s.agent && s.agent === f.agent_id) agentIdle(s.agent);
}

function main(): void {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const server = createServer((req, res) => {
    handleHttp(req, res).catch(() => res.destroy());
  });
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 1024 * 1024 });
  wss.on('connection', (ws) => {
    const s: Sock = { ws, agent: null, capabilities: [], corked: false };
    ws.on('message', (data) => onFrame(s, data));
    ws.on('error', () => {});
    ws.on('close', () => {
      if (s.agent && online.get(s.agent) === s) {
        online.delete(s.agent);
        agentLeft(s.agent);
      }
    });
  });
  server.listen(port, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const line = { level: 30, time: Date.now(), public: url, ws: `${url.replace('http', 'ws')}/ws`, admin: url };
    process.stdout.write(`${JSON.stringify({ ...line, msg: 'hub listening' })}\n`);
  });
  const stop = () => {
    for (const c of wss.clients) c.close(1001, 'shutting down');
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
