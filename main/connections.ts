import type { WebSocket } from 'ws';
import type { HubFrame, PresenceAgent } from '../shared/schemas/hub-frames.js';
import { Connection, encodeOnce, type Frame, FrameKind } from './connection.js';

/**
 * The registry of live sockets and presence. One socket per agent: the newest
 * identify wins (§9.6). Presence frames are encoded once per fan-out.
 */
export class Connections {
  readonly all = new Map<number, Connection>();
  private readonly byAgent = new Map<string, Connection>();
  /** identified sockets that want join/leave/status frames: a fleet that opts out costs nothing per identify */
  private readonly watchers = new Set<Connection>();
  private nextId = 1;
  /** sockets whose send buffer is over the cap, checked by the slow-consumer timer */
  readonly congested = new Set<Connection>();

  /** `onHeld` runs when a socket starts holding durable frames back (§9.20): it pushes them once the buffer drains */
  constructor(
    private readonly bufferMax: number,
    private readonly onHeld: (conn: Connection) => void = () => {},
  ) {}

  add(ws: WebSocket, ip: string, now: number): Connection {
    const conn = new Connection(this.nextId++, ws, ip, this.bufferMax, now);
    this.all.set(conn.id, conn);
    return conn;
  }

  /** Makes `conn` the agent's socket; returns the socket it replaces, if any. */
  bind(conn: Connection): Connection | undefined {
    const agent = conn.agentId as string;
    const prev = this.byAgent.get(agent);
    this.byAgent.set(agent, conn);
    if (conn.presenceEvents) this.watchers.add(conn);
    else this.watchers.delete(conn);
    if (prev && prev !== conn) this.watchers.delete(prev);
    return prev === conn ? undefined : prev;
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

  online(agent: string): Connection | undefined {
    return this.byAgent.get(agent);
  }

  agentIds(): Set<string> {
    return new Set(this.byAgent.keys());
  }

  agents(): Connection[] {
    return [...this.byAgent.values()];
  }

  count(): number {
    return this.byAgent.size;
  }

  list(): PresenceAgent[] {
    return this.agents().map((c) => c.agent());
  }

  /** Sends a presence frame to every identified socket that wants presence, except `except`. */
  presence(frame: HubFrame<'agent_joined' | 'agent_left' | 'status_changed'>, except?: Connection): void {
    const text = encodeOnce(frame);
    for (const c of this.watchers) {
      if (c === except) continue;
      if (!c.send(text, FrameKind.Presence)) this.congested.add(c);
    }
  }

  /** Sends a pre-encoded live frame; false when it was dropped (§9.20). */
  deliver(conn: Connection, text: Frame, seq?: number): boolean {
    const ok = conn.send(text, FrameKind.Live, Date.now(), seq);
    if (ok) return true;
    this.congested.add(conn);
    if (conn.heldFrom !== null && !conn.catchingUp) {
      conn.catchingUp = true;
      this.onHeld(conn);
    }
    return false;
  }
}
