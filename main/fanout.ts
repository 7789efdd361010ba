import type { Domain } from '../shared/domains/domain.js';
import type { MessagingApi } from '../shared/domains/messaging.js';
import type { HubFrame } from '../shared/schemas/hub-frames.js';
import type { Msg, StoredMsg } from '../shared/schemas/records.js';
import type { Analytics } from './analytics.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './log.js';
import { type Connection, encodeOnce, type Frame } from './ws/connection.js';

/** Counters of what fan-out could not deliver live, for /health and /metrics. */
export interface DeliveryCounters {
  mailboxDropped: number;
  liveDropped: number;
}

export interface FanoutDeps {
  fleet: Fleet;
  messaging: Domain<MessagingApi>;
  analytics: Analytics;
  counters: DeliveryCounters;
  log: Logger;
  limits: { sendBufferMax: number; slowConsumerMs: number; mailboxMax: number };
}

/** The `message` frame an agent receives; mailbox deliveries carry their `seq` (§9.21). */
function messageFrame(m: Msg | StoredMsg, seq?: number): HubFrame<'message'> {
  const frame: HubFrame<'message'> = {
    type: 'message',
    id: m.id,
    from: m.from,
    message_type: m.type,
    payload: m.payload,
    reply_to: m.reply_to,
    timestamp: m.timestamp,
  };
  if (m.channel !== undefined) frame.channel = m.channel;
  if (seq !== undefined) frame.seq = seq;
  return frame;
}

const REPLAY_PAGE = 500;
const CATCH_UP_RETRY_MS = 1000;

/** A message's write as the fan-out needs it: its seq, who got a mailbox copy, and what the cap dropped. */
export interface Written {
  seq: number;
  mailboxed: readonly string[];
  dropped?: Record<string, number>;
}

/**
 * The one fan-out: every durable frame (direct, broadcast, channel) leaves
 * through here after its write is durable. It owns what happens when a
 * frame cannot be delivered live: late mailbox copies before the sender's
 * ack, held frames pushed once a slow socket drains, the slow-consumer
 * cut-off (4008) with its mailbox copies, mailbox replays, and the counters.
 */
export class Fanout {
  private readonly overflowLogged = new Map<string, number>();

  constructor(private readonly d: FanoutDeps) {}

  /**
   * A direct or broadcast message after its write: a live frame to every
   * recipient, with `seq` to those holding a mailbox copy (so they can ack
   * it); a recipient expected live that missed it gets a late copy.
   * `liveFor` is who was online when the copies were decided.
   * A Promise only when late copies are written: the common delivery stays synchronous.
   */
  message(msg: Msg, res: Written, liveFor: readonly string[]): Promise<void> | undefined {
    const late = msg.to === null ? this.broadcast(msg, res, liveFor) : this.direct(msg, msg.to, res, liveFor);
    this.noteDrops(res.dropped);
    return late.length ? this.lateCopy(late, res.seq) : undefined;
  }

  /** One recipient: no sets to build on the hot path. */
  private direct(msg: Msg, to: string, res: Written, liveFor: readonly string[]): string[] {
    const boxed = res.mailboxed.includes(to);
    const result = this.d.fleet.deliver(to, encodeOnce(messageFrame(msg, boxed ? res.seq : undefined)), res.seq);
    if (result === 'sent') this.d.analytics.received(to, msg.timestamp);
    else if (!boxed && (result === 'dropped' || liveFor.includes(to))) return [to];
    return [];
  }

  /**
   * Every socket identified by now, those online at the decision and those
   * with a copy (a socket may have identified meanwhile); the frame is
   * encoded once per variant, with `seq` for mailbox holders and without.
   */
  private broadcast(msg: Msg, res: Written, liveFor: readonly string[]): string[] {
    const { fleet, analytics } = this.d;
    const mailboxed = new Set(res.mailboxed);
    const expected = new Set(liveFor);
    const encoded: Partial<Record<'plain' | 'withSeq', Frame>> = {};
    const frame = (boxed: boolean): Frame => {
      const variant = boxed ? 'withSeq' : 'plain';
      encoded[variant] ??= encodeOnce(messageFrame(msg, boxed ? res.seq : undefined));
      return encoded[variant];
    };
    const late: string[] = [];
    for (const agent of new Set([...liveFor, ...mailboxed, ...fleet.agentIds()])) {
      const boxed = mailboxed.has(agent);
      const result = fleet.deliver(agent, frame(boxed), res.seq);
      if (result === 'sent') analytics.received(agent, msg.timestamp);
      else if (!boxed && agent !== msg.from && (result === 'dropped' || expected.has(agent))) late.push(agent);
    }
    return late;
  }

  /** A channel post after its write: one encoded frame to every following socket but the sender's. */
  async channel(frame: HubFrame<'channel_message'>, res: Written, subscribers: Iterable<string>): Promise<void> {
    const text = encodeOnce(frame);
    const mailboxed = new Set(res.mailboxed);
    const late: string[] = [];
    for (const agent of subscribers) {
      if (agent === frame.from || mailboxed.has(agent)) continue;
      if (this.d.fleet.deliver(agent, text, res.seq) === 'sent') this.d.analytics.received(agent, frame.timestamp);
      else late.push(agent);
    }
    await this.lateCopy(late, res.seq);
    this.noteDrops(res.dropped);
  }

  /** A live frame that did not go out: copied to those mailboxes before the sender is answered (§9.20–9.21). */
  private async lateCopy(agents: string[], seq: number): Promise<void> {
    if (!agents.length) return;
    this.d.counters.liveDropped += agents.length;
    const copy = await this.d.messaging.finish('mailboxCopy', { agents, seqs: [seq] });
    this.noteDrops(copy.dropped);
  }

  /** Mailbox-cap drops (§9.12): counted, and each agent whose mailbox overflows is logged once per minute. */
  noteDrops(dropped: Record<string, number> | undefined): void {
    if (!dropped) return;
    const now = Date.now();
    for (const [agent, n] of Object.entries(dropped)) {
      this.d.counters.mailboxDropped += n;
      if (now - (this.overflowLogged.get(agent) ?? 0) < 60_000) continue;
      this.overflowLogged.set(agent, now);
      this.d.log.warn(
        { agent_id: agent, dropped: n, mailbox_max: this.d.limits.mailboxMax },
        'mailbox full: oldest entries dropped',
      );
    }
  }

  /**
   * Sends the agent's mailbox after `since`, in order, before any live frame
   * (§9.21). One replay per socket: asked for again while one runs (a
   * re-identify), the running one starts again from the new point and what
   * queued behind it stays queued. Held frames are pushed once it ends.
   */
  async replay(conn: Connection, since: number): Promise<void> {
    if (conn.replaying) {
      conn.replayRestart = since;
      return;
    }
    conn.beginReplay();
    // the newest seq sent: on a failure what follows it is still in the mailbox, held again
    let sent = since;
    try {
      let cursor = since;
      for (;;) {
        const page = await this.d.messaging.call('poll', {
          agent: conn.agentId as string,
          since: cursor,
          limit: REPLAY_PAGE,
        });
        let next = page.messages.length < REPLAY_PAGE ? null : page.last_seq;
        for (const m of page.messages) {
          if (conn.closing) return;
          if (conn.replayRestart !== null) break;
          if (m.seq >= conn.replayBound()) {
            next = null;
            break;
          }
          await conn.sendPaced(JSON.stringify(messageFrame(m, m.seq)));
          sent = m.seq;
        }
        if (conn.replayRestart !== null) {
          next = conn.replayRestart;
          conn.replayRestart = null;
        }
        if (next === null) return;
        cursor = next;
      }
    } catch (err) {
      // a page that could not be read (overloaded, a storage fault): a later catch-up pushes the rest in order
      conn.heldFrom = Math.min(conn.heldFrom ?? Number.POSITIVE_INFINITY, sent + 1);
      throw err;
    } finally {
      conn.replayRestart = null;
      conn.endReplay();
      // frames held while it ran (its queue overflowed) follow it, from the mailbox
      if (conn.heldFrom !== null && !conn.catchingUp && !conn.closing) {
        conn.catchingUp = true;
        this.catchUp(conn);
      }
    }
  }

  /**
   * A socket held durable frames back (§9.20): once its send buffer is under
   * the cap again, they are pushed from its mailbox in seq order, ahead of
   * newer live frames, while it stays connected. Another hold during the push
   * arms the next one.
   */
  catchUp(conn: Connection): void {
    const socket = (conn.ws as unknown as { _socket?: { once(e: 'drain', f: () => void): void } })._socket;
    let failures = 0;
    const attempt = () => {
      // a replay that runs meanwhile arms the catch-up again when it ends
      if (conn.closing || conn.heldFrom === null || conn.replaying) {
        conn.catchingUp = false;
        return;
      }
      if (conn.ws.bufferedAmount > this.d.limits.sendBufferMax) {
        socket?.once('drain', attempt);
        return;
      }
      this.replay(conn, conn.heldFrom - 1).then(
        () => {
          conn.catchingUp = false;
          if (conn.heldFrom !== null && !conn.closing) {
            conn.catchingUp = true;
            attempt();
          }
        },
        (err) => {
          // one line when it starts failing, not one a second
          if (failures++ === 0)
            this.d.log.error(
              { err, agent_id: conn.agentId },
              'pushing held mailbox entries failed; retrying every second',
            );
          // still held (the failed replay kept its place): tried again, unless the socket goes meanwhile
          setTimeout(attempt, CATCH_UP_RETRY_MS).unref();
        },
      );
    };
    attempt();
  }

  /**
   * The slow-consumer policy (§9.20), run on a timer: a socket that reads
   * again is no longer congested; one that has not taken what it was sent
   * for `slowConsumerMs` (over the cap, or a replay of held frames waiting to
   * drain) is closed with 4008, and what was written to it but may still sit
   * in its buffer is copied to its mailbox first.
   */
  cutSlowConsumers(now: number): void {
    const { fleet, log, limits } = this.d;
    for (const c of fleet.congested) {
      const since = c.stalledSince();
      if (since === 0) fleet.congested.delete(c);
      else if (now - since >= limits.slowConsumerMs) {
        log.warn(
          { agent_id: c.agentId, conn: c.id, buffered: c.ws.bufferedAmount, dropped: c.dropped },
          'slow consumer closed',
        );
        fleet.congested.delete(c);
        const seqs = c.takeUnflushed();
        if (c.agentId && seqs.length) {
          this.d.messaging.finish('mailboxCopy', { agents: [c.agentId], seqs }).then(
            (r) => this.noteDrops(r.dropped),
            (err) => log.error({ err, agent_id: c.agentId }, 'slow consumer mailbox copy failed'),
          );
        }
        c.close(4008, 'slow_consumer');
        c.ws.terminate();
      }
    }
  }
}
