import { ErrorCode, HubError } from '../shared/errors.js';
import type { WsFrame, WsType } from '../shared/schemas/ws.js';
import type { Connection } from './connection.js';
import type { Hub } from './context.js';
import { replayMailbox, sendMessage } from './messaging.js';
import { channelHandlers } from './ws-channel-handlers.js';
import { taskHandlers } from './ws-pipeline-handlers.js';

type Handler<K extends WsType> = (hub: Hub, conn: Connection, frame: WsFrame<K>) => void | Promise<void>;
export type Handlers = { [K in WsType]?: Handler<K> };

/**
 * Binds the socket to its agent; `identified` reports the delivery mode and
 * the oldest mailbox seq still held (§9.31, §9.32), then the mailbox after
 * `mailbox_since` is replayed before any live frame.
 */
async function identify(hub: Hub, conn: Connection, f: WsFrame<'identify'>): Promise<void> {
  const now = Date.now();
  const blocked = hub.violations.blockedFor(f.agent_id, now);
  if (blocked > 0) {
    conn.close(1008, `identify refused for ${Math.ceil(blocked / 1000)} s after repeated violations`);
    return;
  }
  const tok = hub.tokens.lookup(f.token);
  if (!tok) throw new HubError(ErrorCode.invalidToken);
  if (tok.agent !== f.agent_id) throw new HubError(ErrorCode.tokenAgentMismatch);
  if (conn.agentId && conn.agentId !== f.agent_id) throw new HubError(ErrorCode.tokenAgentMismatch);
  // asked before the socket is bound, so nothing reaches it ahead of `identified`
  const oldest = await hub.messaging.call('mailboxHead', { agent: f.agent_id });
  if (conn.closing) return;

  const rejoin = conn.agentId === f.agent_id;
  hub.limiter.unpin(conn.limiterKey);
  conn.agentId = f.agent_id;
  hub.limiter.pin(conn.limiterKey);
  conn.tokenHash = tok.hash;
  conn.name = f.name ?? f.agent_id;
  conn.status = f.status ?? 'connected';
  conn.capabilities = f.capabilities ?? [];
  conn.ollamaUrl = f.ollama_url ?? null;
  conn.clientType = f.client_type ?? null;
  conn.presenceEvents = f.presence_events ?? true;
  conn.replayFrom = f.mailbox_since ?? null;
  conn.delivery = f.delivery ?? 'live';
  if (!rejoin) conn.connectedAt = now;

  const replaced = hub.conns.bind(conn);
  if (replaced) replaced.close(4001, 'replaced');
  if (!rejoin && !replaced) hub.analytics.connected(f.agent_id, now);
  conn.sendJson({ type: 'identified', agent_id: f.agent_id, delivery: conn.delivery, oldest_seq: oldest });
  if (!rejoin && !replaced) hub.conns.presence({ type: 'agent_joined', agent: conn.agent() }, conn);
  hub.log.info(
    {
      agent_id: f.agent_id,
      conn: conn.id,
      ip: conn.ip,
      replaced: replaced?.id,
      protocol_version: conn.protocolVersion,
    },
    'agent identified',
  );
  hub.events.emit('identified', conn);
  if (conn.replayFrom !== null) await replayMailbox(hub, conn, conn.replayFrom);
}

/** Socket closed: the agent leaves unless a newer socket already replaced this one. */
export function onClosed(hub: Hub, conn: Connection, code: number): void {
  hub.limiter.unpin(conn.limiterKey);
  const left = hub.conns.remove(conn);
  if (!conn.agentId) return;
  if (!left) {
    hub.log.info({ agent_id: conn.agentId, conn: conn.id, code }, 'replaced socket closed');
    return;
  }
  const now = Date.now();
  hub.analytics.disconnected(conn.agentId, now);
  hub.conns.presence({ type: 'agent_left', agent_id: conn.agentId });
  hub.log.info({ agent_id: conn.agentId, conn: conn.id, code }, 'agent disconnected');
  hub.events.emit('left', conn);
}

const core: Handlers = {
  identify,

  async message(hub, conn, f) {
    const r = await sendMessage(hub, conn.agentId as string, {
      to: f.to,
      payload: f.payload,
      type: f.message_type,
      reply_to: f.reply_to,
      idempotency_key: f.idempotency_key,
    });
    conn.sendJson({ type: 'message_sent', id: r.id, seq: r.seq });
  },

  status(hub, conn, f) {
    conn.status = f.status;
    conn.sendJson({ type: 'status_updated', status: f.status });
    hub.conns.presence({ type: 'status_changed', agent: conn.agent() });
    hub.log.info({ agent_id: conn.agentId, status: f.status }, 'agent status changed');
  },

  list_agents(hub, conn) {
    conn.sendJson({ type: 'agents', agents: hub.conns.list() });
  },

  ping(hub, conn) {
    if (conn.agentId) hub.analytics.seen(conn.agentId, Date.now());
    conn.sendJson({ type: 'pong', timestamp: Date.now() });
  },

  async mailbox_ack(hub, conn, f) {
    await hub.messaging.call('ack', { agent: conn.agentId as string, seq: f.seq });
    conn.sendJson({ type: 'mailbox_acked', up_to: f.seq });
  },

  resource_report(_hub, conn, f) {
    const r: Record<string, number> = {};
    for (const [k, v] of Object.entries(f)) if (typeof v === 'number') r[k] = v;
    conn.resources = r;
  },

  ollama_report(_hub, conn, f) {
    conn.ollamaUrl = f.ollama_url;
    conn.sendJson({ type: 'ollama_report_ack', status: 'registered' });
  },

  agent_restarting(hub, conn, f) {
    conn.status = 'restarting';
    hub.conns.presence({ type: 'status_changed', agent: conn.agent() });
    hub.log.info({ agent_id: conn.agentId, reason: f.reason ?? null }, 'agent restarting');
  },
};

/** Every known frame type and its handler. */
export const handlers: Handlers = { ...core, ...channelHandlers, ...taskHandlers };
