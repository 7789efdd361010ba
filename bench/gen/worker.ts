import { parentPort } from 'node:worker_threads';
import type { AgentComClient } from '../../client/src/index.js';
import type { FromWorker, PhaseSpec, ToWorker, WorkerInit } from '../types.js';
import { mapLimit, nowUs, sleep } from '../util.js';
import { BenchAgent, type Pending } from './agent.js';
import { LoadDriver } from './driver.js';
import { FrameBuilder, readStamp } from './frames.js';
import { drainMailboxes } from './mailbox.js';
import { Recorder } from './recorder.js';
import { sdkTaskAgent } from './sdk-tasks.js';
import { TaskFlow } from './tasks.js';

/** One load-generator thread: it owns a share of the agents and drives them phase by phase. */
const port = parentPort;
if (!port) throw new Error('bench/gen/worker.ts runs as a worker thread');
const post = (m: FromWorker) => port.postMessage(m);

/** Over this much unsent data on one socket the generator is the bottleneck: it stops queueing more. */
const SEND_BACKLOG_MAX = 64 * 1024 * 1024;

let init: WorkerInit;
let agents: BenchAgent[] = [];
/** task agents on the client SDK (`--task-client sdk`) */
let sdkAgents: AgentComClient[] = [];
const byId = new Map<string, BenchAgent>();
const rec = new Recorder();
let frames: FrameBuilder;
let tasks: TaskFlow;
let driver: LoadDriver | null = null;
let current: PhaseSpec | null = null;
let closing = false;

function completed(agent: BenchAgent | undefined, ph: number): void {
  if (agent && driver && ph === rec.phaseId) driver.completed(agent);
}

function fire(agent: BenchAgent, t: number): void {
  const op = agent.nextOp();
  const ph = rec.phaseId;
  rec.sent(op.kind, ph, t);
  if (op.kind === 'task') {
    tasks.submit(agent, t, ph);
    return;
  }
  if (agent.buffered > SEND_BACKLOG_MAX || agent.closedCode !== null) {
    rec.error(agent.closedCode !== null ? 'socket_closed' : 'generator_backlog');
    completed(agent, ph);
    return;
  }
  const mailbox = op.kind === 'direct' && byId.get(op.to as string)?.spec.connect === false;
  const pending: Pending = { t, ph, kind: op.kind, mailbox };
  if (op.kind === 'publish') {
    agent.fifo('channel_published').push(pending);
    agent.send(frames.publish(init.channel as string, t, ph));
  } else {
    agent.fifo('message_sent').push(pending);
    agent.send(op.kind === 'direct' ? frames.direct(op.to as string, t, ph) : frames.broadcast(t, ph));
  }
}

function acked(agent: BenchAgent, replyType: string): void {
  const p = agent.pending.get(replyType)?.shift();
  if (!p) {
    rec.error(`unexpected_${replyType}`);
    return;
  }
  if (p.ph === rec.phaseId) {
    const now = nowUs();
    const c = rec.counts;
    c.acked++;
    c.ackedBy[p.kind]++;
    if (p.mailbox) c.mailboxExpected++;
    if (rec.measured(p.ph, p.t)) rec.record('ack', p.t, now);
    if (rec.inWindow(now)) c.ackedInWindow++;
  }
  completed(agent, p.ph);
}

function delivered(text: string): void {
  const s = readStamp(text);
  if (!s || s.ph !== rec.phaseId) return;
  const now = nowUs();
  rec.counts.delivered++;
  if (rec.measured(s.ph, s.bt)) rec.record('delivery', s.bt, now);
  if (rec.inWindow(now)) rec.counts.deliveredInWindow++;
}

function onError(agent: BenchAgent, text: string): void {
  let f: { error?: string; task_id?: string } = {};
  try {
    f = JSON.parse(text);
  } catch {}
  const code = String(f.error ?? 'error');
  if (tasks.onError({ error: code, task_id: f.task_id })) return;
  // a refused frame is answered in place of its reply: it frees the oldest send of that socket
  const p = agent.shiftOldest();
  if (!p || p.ph === rec.phaseId) rec.error(code);
  if (p) completed(agent, p.ph);
}

function onFrame(agent: BenchAgent, type: string, text: string): void {
  switch (type) {
    case 'message_sent':
    case 'channel_published':
      acked(agent, type);
      break;
    case 'message':
      if (init.delivery === 'acked') agent.sawSeq(text);
      delivered(text);
      break;
    case 'channel_message':
      delivered(text);
      break;
    case 'task_assign':
      tasks.onAssign(agent, JSON.parse(text));
      break;
    case 'task_ack':
      tasks.onAck(JSON.parse(text));
      break;
    case 'error':
      onError(agent, text);
      break;
    case 'rate_limited':
      onError(agent, '{"error":"rate_limited"}');
      break;
    case 'rate_limit_warning':
      rec.counts.rateLimitWarnings++;
      break;
    default:
    // identified, channel_agent_joined, pong, presence … : nothing to measure
  }
}

function onClose(_agent: BenchAgent, code: number): void {
  if (closing) return;
  rec.counts.closed[String(code)] = (rec.counts.closed[String(code)] ?? 0) + 1;
}

/** Pure task agents (no sends, no subscription), which `--task-client sdk` runs on the client SDK. */
const sdkRun = (a: BenchAgent) =>
  init.taskClient === 'sdk' && a.spec.capabilities !== undefined && !a.isSender && !a.spec.subscribe;

async function connectAll(): Promise<void> {
  sdkAgents = await mapLimit(
    agents.filter((a) => a.spec.connect && sdkRun(a)),
    init.connectConcurrency,
    async (a) => {
      const t0 = nowUs();
      const c = await sdkTaskAgent(init.wsUrl, a.spec, init.delivery, tasks);
      rec.recordCarry('connect', nowUs() - t0);
      return c;
    },
  );
  const online = agents.filter((a) => a.spec.connect && !sdkRun(a));
  await mapLimit(online, init.connectConcurrency, async (a) => {
    const t0 = nowUs();
    await a.open(init.wsUrl, onFrame, onClose);
    const identify = { type: 'identify', agent_id: a.id, token: a.spec.token, presence_events: false } as Record<
      string,
      unknown
    >;
    if (a.spec.capabilities) identify.capabilities = a.spec.capabilities;
    if (init.delivery === 'acked') identify.delivery = 'acked';
    await a.request(identify, 'identified');
    rec.recordCarry('connect', nowUs() - t0);
  });
  await mapLimit(
    online.filter((a) => a.spec.subscribe),
    init.connectConcurrency,
    (a) => a.request({ type: 'channel_subscribe', channel: a.spec.subscribe }, 'channel_subscribed'),
  );
  // at-least-once receivers ack what they have read, in batches, as a client would
  if (init.delivery === 'acked')
    setInterval(() => {
      for (const a of online) a.ackMailbox();
    }, 20).unref();
  // idle sockets stay alive past the hub's idle timeout
  setInterval(() => {
    for (const a of online) if (a.closedCode === null) a.send('{"type":"ping"}');
  }, 25_000).unref();
}

/** After the send window: wait for replies and task cycles (up to the drain time), then poll mailboxes. */
async function drain(phase: PhaseSpec): Promise<void> {
  const deadline = phase.startUs + phase.durationUs + phase.drainUs;
  const open = () => agents.reduce((n, a) => n + a.pendingCount(), 0) + tasks.open;
  while (open() > 0 && nowUs() < deadline) await sleep(5);
  rec.counts.timeouts = open();
  const pollers = agents.filter((a) => a.spec.poll);
  if (pollers.length) await drainMailboxes(init.apiUrl, pollers, rec);
}

async function runPhase(phase: PhaseSpec): Promise<void> {
  current = phase;
  rec.begin(phase);
  for (const a of agents) a.outstanding = 0;
  const senders = agents.filter((a) => a.isSender);
  driver = new LoadDriver(senders, phase, fire, rec, init.taskers);
  await driver.run();
  driver.stop();
  await drain(phase);
  post({ type: 'phase_done' });
}

port.on('message', (m: ToWorker) => {
  const fail = (err: unknown) => post({ type: 'fatal', error: err instanceof Error ? err.message : String(err) });
  if (m.type === 'init') {
    init = m.init;
    frames = new FrameBuilder(init.size);
    agents = init.agents.map((s) => new BenchAgent(s));
    for (const a of agents) byId.set(a.id, a);
    tasks = new TaskFlow(
      init.apiUrl,
      init.taskScope,
      rec,
      (by) => byId.has(by),
      (by, ph) => completed(byId.get(by), ph),
    );
    connectAll().then(
      () => post({ type: 'ready', connected: agents.filter((a) => a.ws).length + sdkAgents.length }),
      fail,
    );
  } else if (m.type === 'phase') {
    runPhase(m.phase).catch(fail);
  } else if (m.type === 'end') {
    // the drain deadline is read from the phase, so it follows the new end too
    if (current) current.durationUs = m.atUs - current.startUs;
    rec.endAt(m.atUs);
    driver?.endAt(m.atUs);
  } else if (m.type === 'collect') {
    post({ type: 'result', result: rec.result() });
  } else if (m.type === 'close') {
    closing = true;
    for (const a of agents) a.close();
    for (const c of sdkAgents) void c.close(100);
    setTimeout(() => process.exit(0), 200).unref();
    port.close();
  }
});

setInterval(() => {
  const c = rec.counts;
  post({ type: 'progress', sent: c.sent, acked: c.acked, delivered: c.delivered, errors: c.errors });
}, 250).unref();
