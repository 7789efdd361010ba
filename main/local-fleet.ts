import type { WebSocket } from 'ws';
import type { HubFrame, PresenceAgent } from '../shared/schemas/hub-frames.js';
import type { Delivery, Fleet } from './fleet.js';
import { Connection, encodeOnce, type Frame, FrameKind } from './ws/connection.js';

/**
 * The fleet as one hub sees it alone: the registry of its live sockets and
 * presence. One socket per agent: the newest identify wins (§9.6). Presence
 * frames are encoded once per fan-out.
 */
export class LocalFleet implements Fleet {
  private readonly all = new Map<number, Connection>();
  private readonly byAgent = new Map<string, Connection>();
  /** identified sockets that want join/leave/status frames: a fleet that opts out costs nothing per identify */
  private readonly watchers = new Set<Connection>();
  private nextId = 1;
  /** sockets whose stall clock runs (over the cap, or a replay waiting to drain), checked by the slow-consumer timer */
  readonly congested = new Set<Connection>();

  /** `onHeld` runs when a socket starts holding durable frames back (§9.20): it pushes them once the buffer drains */
  constructor(
    private readonly bufferMax: number,
    private readonly onHeld: (conn: Connection) => void = () => {},
  ) {}

  add(ws: WebSocket, ip: string, now: number): Connection {
    const conn = new Connection(this.nextId++, ws, ip, this.bufferMax, now, (c) => this.congested.add(c));
    this.all.set(conn.id, conn);
    return conn;
  }

  bind(conn: Connection): boolean {
    const agent = conn.agentId as string;
    const prev = this.byAgent.get(agent);
    this.byAgent.set(agent, conn);
    if (conn.presenceEvents) this.watchers.add(conn);
    else this.watchers.delete(conn);
    if (!prev || prev === conn) return false;
    this.watchers.delete(prev);
    prev.close(4001, 'replaced');
    return true;
  }

  /** Forgets a closed socket; true when it was its agent's current socket (the agent left). */
  remove(conn: Connection): boolean {
    this.all.delete(conn.id);
    this.congested.delete(conn);
    this.watchers.delete(conn);
    if (conn.agentId && this.byAgent.get(conn.agentId) === conn) {
      this.byAgent.delete(conn.agentId);
      return true;
    }
    return false;
  }

  local(agent: string): Connection | undefined {
    return this.byAgent.get(agent);
  }

  isOnline(agent: string): boolean {
    return this.byAgent.has(agent);
  }

  deliveryOf(agent: string): 'live' | 'acked' | null {
    return this.byAgent.get(agent)?.delivery ?? null;
  }

  sockets(): Iterable<Connection> {
    return this.all.values();
  }

  agentIds(): Set<string> {
    return new Set(this.byAgent.keys());
  }

  count(): number {
    return this.byAgent.size;
  }

  agent(id: string): PresenceAgent | undefined {
    return this.byAgent.get(id)?.agent();
  }

  list(): PresenceAgent[] {
    return [...this.byAgent.values()].map((c) => c.agent());
  }

  /** told of every join, leave and status change, whoever watches presence (the live dashboard) */
  onPresence: ((agent: string) => void) | null = null;

  presence(frame: HubFrame<'agent_joined' | 'agent_left' | 'status_changed'>, except?: Connection): void {
    this.onPresence?.(frame.type === 'agent_left' ? frame.agent_id : frame.agent.agent_id);
    const text = encodeOnce(frame);
    for (const c of this.watchers) {
      if (c === except) continue;
      c.send(text, FrameKind.Presence);
    }
  }

  deliver(agent: string, text: Frame, seq?: number): Delivery {
    const conn = this.byAgent.get(agent);
    if (!conn) return 'offline';
    if (conn.send(text, FrameKind.Live, Date.now(), seq)) return 'sent';
    // during a replay the held frames wait for it to end (it arms the catch-up)
    if (conn.heldFrom !== null && !conn.catchingUp && !conn.replaying) {
      conn.catchingUp = true;
      this.onHeld(conn);
    }
    return 'dropped';
  }

  send(agent: string, frame: HubFrame | Frame): boolean {
    const conn = this.byAgent.get(agent);
    if (!conn) return false;
    if (typeof frame === 'string' || Buffer.isBuffer(frame)) conn.sendText(frame);
    else conn.sendJson(frame);
    return true;
  }
}
