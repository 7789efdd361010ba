import { type Domain, type Done, promised } from '../../shared/domains/domain.js';
import type { MessagingApi, SendReply } from '../../shared/domains/messaging.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { identifyRefusedReason } from '../../shared/identify-refusal.js';
import type { WsFrame, WsType } from '../../shared/schemas/ws.js';
import type { Analytics } from '../analytics.js';
import type { TokenCache } from '../auth.js';
import type { Fanout } from '../fanout.js';
import type { Fleet } from '../fleet.js';
import type { Limiter } from '../limiter.js';
import type { Logger } from '../log.js';
import type { SendInput } from '../messaging.js';
import type { Violations } from '../violations.js';
import type { Connection } from './connection.js';

export type Handler<K extends WsType> = (conn: Connection, frame: WsFrame<K>) => void | Promise<void>;
export type Handlers = { [K in WsType]?: Handler<K> };

export interface CoreDeps {
  fleet: Fleet;
  tokens: TokenCache;
  violations: Violations;
  limiter: Limiter;
  messaging: Domain<MessagingApi>;
  fanout: Fanout;
  send: (from: string, input: SendInput, done: Done<SendReply>) => void;
  analytics: Analytics;
  /** told when an agent identifies and when its socket ends (the scheduler) */
  agents: { identified(conn: Connection): void; left(agent: string): void };
  log: Logger;
}

/** Identify, messages, presence, keep-alive and the sidecar's reports (§2.1, §9.6, §9.9, §9.21). */
export function coreHandlers(d: CoreDeps): Handlers {
  /**
   * Binds the socket to its agent; `identified` reports the delivery mode and
   * the oldest mailbox seq still held (§9.31, §9.32), then the mailbox after
   * `mailbox_since` is replayed before any live frame.
   */
  async function identify(conn: Connection, f: WsFrame<'identify'>): Promise<void> {
    const now = Date.now();
    const blocked = d.violations.blockedFor(f.agent_id, now);
    if (blocked > 0) {
      conn.close(1008, identifyRefusedReason(blocked));
      return;
    }
    const tok = d.tokens.lookup(f.token);
    if (!tok) throw new HubError(ErrorCode.invalidToken);
    if (tok.agent !== f.agent_id) throw new HubError(ErrorCode.tokenAgentMismatch);
    if (conn.agentId && conn.agentId !== f.agent_id) throw new HubError(ErrorCode.tokenAgentMismatch);
    // asked before the socket is bound, so nothing reaches it ahead of `identified`
    const oldest = await d.messaging.call('mailboxHead', { agent: f.agent_id });
    // frames are handled concurrently: meanwhile the socket may have closed (binding it would leave a ghost
    // no close ever removes) or another identify may have bound it to another agent
    if (conn.closing || conn.ws.readyState !== 1) return;
    if (conn.agentId && conn.agentId !== f.agent_id) throw new HubError(ErrorCode.tokenAgentMismatch);

    const rejoin = conn.agentId === f.agent_id;
    d.limiter.unpin(conn.limiterKey);
    conn.agentId = f.agent_id;
    d.limiter.pin(conn.limiterKey);
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

    const replaced = d.fleet.bind(conn);
    if (!rejoin && !replaced) d.analytics.connected(f.agent_id, now);
    conn.sendJson({ type: 'identified', agent_id: f.agent_id, delivery: conn.delivery, oldest_seq: oldest });
    if (!rejoin && !replaced) d.fleet.presence({ type: 'agent_joined', agent: conn.agent() }, conn);
    d.log.info(
      { agent_id: f.agent_id, conn: conn.id, ip: conn.ip, replaced, protocol_version: conn.protocolVersion },
      'agent identified',
    );
    d.agents.identified(conn);
    if (conn.replayFrom !== null) await d.fanout.replay(conn, conn.replayFrom);
  }

  return {
    identify,

    message(conn, f) {
      const input = {
        to: f.to,
        payload: f.payload,
        type: f.message_type,
        reply_to: f.reply_to,
        idempotency_key: f.idempotency_key,
      };
      // one Promise per frame (the gateway's), callbacks below it: this is the hub's hottest path
      return promised<void>((done) =>
        d.send(conn.agentId as string, input, (err, r) => {
          if (err || !r) return done(err);
          conn.sendJson({ type: 'message_sent', id: r.id, seq: r.seq });
          done(null);
        }),
      );
    },

    status(conn, f) {
      conn.status = f.status;
      conn.sendJson({ type: 'status_updated', status: f.status });
      d.fleet.presence({ type: 'status_changed', agent: conn.agent() });
      d.log.info({ agent_id: conn.agentId, status: f.status }, 'agent status changed');
    },

    list_agents(conn) {
      conn.sendJson({ type: 'agents', agents: d.fleet.list() });
    },

    ping(conn) {
      if (conn.agentId) d.analytics.seen(conn.agentId, Date.now());
      conn.sendJson({ type: 'pong', timestamp: Date.now() });
    },

    async mailbox_ack(conn, f) {
      await d.messaging.call('ack', { agent: conn.agentId as string, seq: f.seq });
      conn.sendJson({ type: 'mailbox_acked', up_to: f.seq });
    },

    resource_report(conn, f) {
      const r: Record<string, number> = {};
      for (const [k, v] of Object.entries(f)) if (typeof v === 'number') r[k] = v;
      conn.resources = r;
    },

    ollama_report(conn, f) {
      conn.ollamaUrl = f.ollama_url;
      conn.sendJson({ type: 'ollama_report_ack', status: 'registered' });
    },

    agent_restarting(conn, f) {
      conn.status = 'restarting';
      d.fleet.presence({ type: 'status_changed', agent: conn.agent() });
      d.log.info({ agent_id: conn.agentId, reason: f.reason ?? null }, 'agent restarting');
    },
  };
}

/** Socket closed: the agent leaves unless a newer socket already replaced this one. */
export function socketClosed(d: CoreDeps, conn: Connection, code: number): void {
  d.limiter.unpin(conn.limiterKey);
  const left = d.fleet.remove(conn);
  if (!conn.agentId) return;
  if (!left) {
    d.log.info({ agent_id: conn.agentId, conn: conn.id, code }, 'replaced socket closed');
    return;
  }
  d.analytics.disconnected(conn.agentId, Date.now());
  d.fleet.presence({ type: 'agent_left', agent_id: conn.agentId });
  d.log.info({ agent_id: conn.agentId, conn: conn.id, code }, 'agent disconnected');
  d.agents.left(conn.agentId);
}
