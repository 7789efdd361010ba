import type { WebSocket } from 'ws';
import type { HubFrame, PresenceAgent } from '../shared/schemas/hub-frames.js';
import type { Connection, Frame } from './ws/connection.js';

/** What happened to a live frame for one agent. */
export type Delivery = 'sent' | 'dropped' | 'offline';

/**
 * Fleet routing: who is online and where, and how a frame reaches an agent.
 * The in-process registry of this hub's sockets (`LocalFleet`) is the
 * implementation today; a cluster implementation routes to agents whose
 * socket is on another hub. Everything that delivers goes through here.
 */
export interface Fleet {
  /** A socket this hub accepted; it joins the fleet when it identifies (`bind`). */
  add(ws: WebSocket, ip: string, now: number): Connection;
  /** this hub's sockets whose send buffer is over the cap, for the slow-consumer policy */
  readonly congested: Set<Connection>;
  /** agents identified on the fleet */
  agentIds(): Set<string>;
  count(): number;
  isOnline(agent: string): boolean;
  /** the delivery mode the agent identified with (§9.32), null when it is offline */
  deliveryOf(agent: string): 'live' | 'acked' | null;
  list(): PresenceAgent[];
  /** one online agent as presence shows it */
  agent(id: string): PresenceAgent | undefined;
  /** the agent's socket when it is on this hub */
  local(agent: string): Connection | undefined;
  /** every socket of this hub, identified or not (reaper, pings, shutdown) */
  sockets(): Iterable<Connection>;
  /**
   * Makes `conn` its agent's socket (§9.6, newest wins): an older socket of the
   * agent, on this hub or another, is closed with 4001. True when one was replaced.
   */
  bind(conn: Connection): boolean;
  /** Forgets a closed socket; true when it was its agent's current socket (the agent left). */
  remove(conn: Connection): boolean;
  /** A durable live frame for `agent` (dropped over its socket's cap: the caller keeps it in the mailbox). */
  deliver(agent: string, frame: Frame, seq?: number): Delivery;
  /** A frame that must not be dropped (a task assignment, a cancel, a restart command), or already encoded. */
  send(agent: string, frame: HubFrame | Frame): boolean;
  /** join/leave/status to every socket that wants presence, except `except`. */
  presence(frame: HubFrame<'agent_joined' | 'agent_left' | 'status_changed'>, except?: Connection): void;
}
