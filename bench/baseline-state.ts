import type { WebSocket } from 'ws';
import { assignFrame as encodeAssign } from '../shared/task-frames.js';
import { complexityOf, routingFor } from '../storage/task-routing.js';

/**
 * The baseline's whole state, in memory: who holds which token, who is
 * online, mailboxes, channels and a task queue. No persistence, no
 * validation, no batching: every frame is answered at once. It emits the
 * same frames, with the same fields in the same order, as the hub.
 */

export interface Sock {
  ws: WebSocket;
  agent: string | null;
  capabilities: string[];
  corked: boolean;
}

interface Task {
  id: string;
  description: string;
  metadata: Record<string, unknown>;
  needs: string[];
  generation: number;
  tier: string | null;
  assignedTo: string | null;
}

let counter = 0;
/** 16 lower-hex chars, like the hub's ids. */
export const newId = () => (++counter).toString(16).padStart(16, '0');

export const tokens = new Map<string, string>();
export const online = new Map<string, Sock>();
export const mailboxes = new Map<string, Array<Record<string, unknown> & { seq: number }>>();
let mailboxSeq = 0;
export const channels = new Map<string, { seq: number; subs: Set<string> }>();
export let whitelist: string[] = [];
export const setWhitelist = (ids: string[]) => {
  whitelist = ids;
};

const queue: Task[] = [];
const tasks = new Map<string, Task>();
const idle = new Set<string>();

const TEXT = { binary: false } as const;
const corked: Sock[] = [];

function uncorkAll(): void {
  for (const s of corked.splice(0)) {
    s.corked = false;
    (s.ws as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
  }
}

/**
 * The transport tricks any raw router would use, so the ratio measures what
 * durability, validation and threads cost: a socket written to in this
 * event-loop turn is corked until the turn ends (one syscall per socket per
 * turn), and fan-out frames arrive here encoded once as a Buffer.
 */
export function send(s: Sock | undefined, data: string | Buffer): void {
  if (s?.ws.readyState !== 1) return;
  if (!s.corked) {
    const socket = (s.ws as unknown as { _socket?: { cork(): void } })._socket;
    if (socket) {
      socket.cork();
      s.corked = true;
      if (corked.push(s) === 1) setImmediate(uncorkAll);
    }
  }
  s.ws.send(data, TEXT);
}

function toMailbox(agent: string, msg: Record<string, unknown>): void {
  let box = mailboxes.get(agent);
  if (!box) {
    box = [];
    mailboxes.set(agent, box);
  }
  box.push({ ...msg, seq: ++mailboxSeq });
}

/** Direct or broadcast: the recipient's `message` frame (or a mailbox copy), then the caller acks. */
export function route(from: string, f: Record<string, any>): string {
  const id = newId();
  const to = !f.to || f.to === 'broadcast' ? null : String(f.to);
  const timestamp = Date.now();
  const type = f.message_type ?? 'chat';
  const reply_to = f.reply_to ?? null;
  const json = JSON.stringify({
    type: 'message',
    id,
    from,
    message_type: type,
    payload: f.payload,
    reply_to,
    timestamp,
  });
  const stored = { id, from, to, type, payload: f.payload, reply_to, timestamp };
  if (to) {
    const s = online.get(to);
    if (s) send(s, json);
    else toMailbox(to, stored);
  } else {
    const frame = Buffer.from(json);
    for (const s of online.values()) send(s, frame);
    for (const agent of new Set(tokens.values())) if (agent !== from && !online.has(agent)) toMailbox(agent, stored);
  }
  return id;
}

export function publish(from: string, f: Record<string, any>): { channel: string; seq: number; id: string } | null {
  const ch = channels.get(f.channel);
  if (!ch) return null;
  const id = newId();
  const seq = ++ch.seq;
  const timestamp = Date.now();
  const type = f.message_type ?? 'chat';
  const reply_to = f.reply_to ?? null;
  const frame = Buffer.from(
    JSON.stringify({
      type: 'channel_message',
      channel: f.channel,
      id,
      from,
      message_type: type,
      payload: f.payload,
      reply_to,
      timestamp,
      seq,
    }),
  );
  for (const agent of ch.subs) {
    if (agent === from) continue;
    const s = online.get(agent);
    if (s) send(s, frame);
    else toMailbox(agent, { id, from, to: null, type, payload: f.payload, reply_to, timestamp, channel: f.channel });
  }
  return { channel: f.channel, seq, id };
}

export function subscribe(agent: string, channel: string): 'ok' | 'already' | 'missing' {
  const ch = channels.get(channel);
  if (!ch) return 'missing';
  if (ch.subs.has(agent)) return 'already';
  ch.subs.add(agent);
  const text = JSON.stringify({ type: 'channel_agent_joined', channel, agent_id: agent });
  for (const a of ch.subs) if (a !== agent) send(online.get(a), text);
  return 'ok';
}

export function mailboxAck(agent: string, seq: number): void {
  const box = mailboxes.get(agent);
  if (box)
    mailboxes.set(
      agent,
      box.filter((m) => m.seq > seq),
    );
}

// ---- tasks: FIFO queue, first idle agent whose capabilities cover the task's needs

export function submitTask(b: Record<string, any>): Task {
  const t: Task = {
    id: `task-${newId()}`,
    description: String(b.description ?? ''),
    metadata: b.metadata ?? {},
    needs: b.needed_capabilities ?? [],
    generation: 0,
    tier: b.complexity_tier ?? null,
    assignedTo: null,
  };
  tasks.set(t.id, t);
  queue.push(t);
  schedule();
  return t;
}

/** The hub's `task_assign` encoder and routing over the baseline's record: the same frame, none of the hub's storage. */
function assignFrame(t: Task): string {
  const complexity = t.tier ? complexityOf(t.description, t.tier) : null;
  return encodeAssign({
    id: t.id,
    description: t.description,
    metadata: t.metadata,
    generation: t.generation,
    complexity,
    routing_decision: routingFor({ complexity }, 1, Date.now()),
  });
}

export function schedule(): void {
  for (let i = 0; i < queue.length && idle.size > 0; i++) {
    const t = queue[i];
    for (const agent of idle) {
      const s = online.get(agent);
      if (!s) {
        idle.delete(agent);
        continue;
      }
      if (!t.needs.every((c) => s.capabilities.includes(c))) continue;
      idle.delete(agent);
      queue.splice(i--, 1);
      t.generation++;
      t.assignedTo = agent;
      send(s, assignFrame(t));
      break;
    }
  }
}

export function agentIdle(agent: string): void {
  idle.add(agent);
  schedule();
}

export function agentLeft(agent: string): void {
  idle.delete(agent);
  for (const t of tasks.values()) {
    if (t.assignedTo === agent) {
      t.assignedTo = null;
      queue.push(t);
    }
  }
}

export function completeTask(agent: string, f: Record<string, any>): string | null {
  const t = tasks.get(f.task_id);
  if (!t || t.assignedTo === null) return 'not_found';
  if (t.generation !== f.generation) return 'stale_generation';
  tasks.delete(t.id);
  agentIdle(agent);
  return null;
}
