import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { sleep, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';
import { ASSIGN_KEYS } from './helpers/task-frames.js';

/** What the sidecar keeps in queue.json for a task (PROTOCOL.md §8). */
interface HeldTask {
  task_id: string;
  description: string;
  metadata: Record<string, unknown>;
  status: string;
  assigned_at: number;
  generation: number;
  routing_decision: { target_type?: string } | null;
}

interface SidecarOptions {
  capabilities?: string[];
  /** '' behaves like a sidecar with no wake_command configured */
  wakeCommand?: string;
  /** ping period; the sidecar's is 30 s, shrunk here */
  pingMs?: number;
  /** queue.json as a crashed or disconnected sidecar left it */
  queue?: { active: HeldTask | null; recovering: HeldTask | null };
  /** generations the sidecar process remembers from earlier task_assign frames */
  generations?: Map<string, number>;
  /** when true, execution waits for `release(task_id)` */
  hold?: boolean;
}

/** The scripted stand-in for the shell executor: `echo X` prints `X\n`. */
function shellOutput(command: unknown): string {
  const m = typeof command === 'string' ? /^echo (.*)$/.exec(command) : null;
  return m ? `${m[1]}\n` : '';
}

/**
 * A client that speaks exactly like the original sidecar's wire layer
 * (PROTOCOL.md §8): the same identify, `protocol_version: 1` on every frame,
 * ping with a pong deadline, resource reports, recovery and state reports after
 * `identified`, one task at a time, and the task, wake, cancel and restart
 * flows with the sidecar's frame shapes. Written from the protocol text.
 */
class ScriptedSidecar {
  client!: TestClient;
  readonly queue: { active: HeldTask | null; recovering: HeldTask | null };
  readonly generations: Map<string, number>;
  pingsSent = 0;
  pongs = 0;
  pongMisses = 0;
  private lastPong = 0;
  private timers: NodeJS.Timeout[] = [];
  private gates = new Map<string, () => void>();
  /** every error frame the hub sent, over all connections (the sidecar logs them as `hub_error`) */
  private readonly errorFrames: any[] = [];

  private constructor(
    readonly agentId: string,
    private readonly token: string,
    private readonly opts: SidecarOptions,
  ) {
    this.queue = opts.queue ?? { active: null, recovering: null };
    this.generations = opts.generations ?? new Map();
  }

  static async start(url: string, agentId: string, token: string, opts: SidecarOptions = {}): Promise<ScriptedSidecar> {
    const s = new ScriptedSidecar(agentId, token, opts);
    await s.connect(url);
    return s;
  }

  /** Opens a socket, identifies on open and starts the heartbeat; resolves on `identified`. */
  connect(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      this.client = new TestClient(ws);
      ws.on('message', (d) => this.onFrame(JSON.parse(String(d))));
      ws.on('close', () => this.stopTimers());
      ws.once('error', reject);
      ws.once('open', () => {
        this.identify();
        this.startHeartbeat();
        this.client.next('identified').then(() => resolve(), reject);
      });
    });
  }

  /** The same process loses its socket and dials again: queue, generations and running work survive. */
  async reconnect(url: string): Promise<void> {
    this.client.ws.terminate();
    await this.client.waitClose();
    await this.connect(url);
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  send(frame: Record<string, unknown>): void {
    if (this.client.ws.readyState === WebSocket.OPEN) this.client.send({ ...frame, protocol_version: 1 });
  }

  private identify(): void {
    this.send({
      type: 'identify',
      agent_id: this.agentId,
      token: this.token,
      name: this.agentId,
      status: 'idle',
      capabilities: this.opts.capabilities ?? ['code'],
      client_type: 'sidecar',
      protocol_version: 1,
      pm2_info: {
        name: `agentcom-${this.agentId}`,
        status: 'online',
        uptime_ms: 1234,
        restart_count: 0,
        memory_bytes: 1,
      },
    });
  }

  private startHeartbeat(): void {
    const every = this.opts.pingMs ?? 30_000;
    const t = setInterval(() => {
      const sentAt = Date.now();
      this.pingsSent++;
      this.send({ type: 'ping' });
      // the sidecar terminates and reconnects when no pong follows within 10 s
      setTimeout(() => {
        if (this.lastPong < sentAt) this.pongMisses++;
      }, 10_000).unref();
    }, every);
    t.unref();
    this.timers.push(t);
  }

  resourceReport(): void {
    this.send({
      type: 'resource_report',
      agent_id: this.agentId,
      cpu_percent: 12.5,
      ram_used_bytes: 2_000_000_000,
      ram_total_bytes: 8_000_000_000,
      vram_used_bytes: null,
      vram_total_bytes: null,
      timestamp: Date.now(),
    });
  }

  release(taskId: string): void {
    this.gates.get(taskId)?.();
    this.gates.delete(taskId);
  }

  /** The process dies: the socket just goes away, work in flight is lost, queue.json stays as it is. */
  crash(): void {
    this.stopTimers();
    this.gates.clear();
    this.client.ws.terminate();
  }

  errors(): any[] {
    return this.errorFrames;
  }

  private onFrame(f: any): void {
    switch (f.type) {
      case 'error':
        this.errorFrames.push(f);
        break;
      case 'identified':
        if (this.queue.recovering) {
          const t = this.queue.recovering;
          this.send({
            type: 'task_recovering',
            task_id: t.task_id,
            description: t.description,
            metadata: t.metadata,
            last_status: t.status,
            protocol_version: 1,
          });
        }
        if (this.queue.active) {
          const t = this.queue.active;
          this.send({
            type: 'state_report',
            task_id: t.task_id,
            status: t.status,
            generation: this.generations.get(t.task_id) ?? t.generation,
            assigned_at: t.assigned_at,
          });
        }
        break;
      case 'pong':
        this.pongs++;
        this.lastPong = Date.now();
        break;
      case 'task_assign':
        this.onAssign(f);
        break;
      case 'state_report_ack':
        // like the sidecar: the task is dropped, but work already running is not stopped
        if (f.action === 'abort' && this.queue.active?.task_id === f.task_id) {
          this.queue.active = null;
          this.generations.delete(f.task_id);
        }
        break;
      case 'task_cancelled':
        this.cancelled.add(f.task_id);
        if (this.queue.active?.task_id === f.task_id) this.queue.active = null;
        if (this.queue.recovering?.task_id === f.task_id) this.queue.recovering = null;
        this.generations.delete(f.task_id);
        break;
      case 'task_continue':
        if (f.generation !== undefined) this.generations.set(f.task_id, f.generation);
        if (this.queue.recovering?.task_id === f.task_id) {
          this.queue.active = this.queue.recovering;
          this.queue.recovering = null;
        }
        break;
      case 'task_reassign':
        this.generations.delete(f.task_id);
        if (this.queue.recovering?.task_id === f.task_id) this.queue.recovering = null;
        break;
      case 'restart_sidecar':
        this.send({ type: 'agent_restarting', reason: f.reason ?? 'hub_commanded' });
        setTimeout(() => this.client.ws.close(1000, 'shutdown'), 20);
        break;
    }
  }

  private onAssign(f: any): void {
    if (this.queue.active !== null) {
      this.send({ type: 'task_rejected', task_id: f.task_id, reason: 'busy' });
      return;
    }
    if (f.generation !== undefined) this.generations.set(f.task_id, f.generation);
    const task: HeldTask = {
      task_id: f.task_id,
      description: f.description,
      metadata: f.metadata ?? {},
      status: 'accepted',
      assigned_at: f.assigned_at ?? Date.now(),
      generation: f.generation ?? 0,
      routing_decision: f.routing_decision ?? null,
    };
    this.queue.active = task;
    this.send({ type: 'task_accepted', task_id: f.task_id });
    const wake = this.opts.wakeCommand ?? 'true';
    if (wake.trim() === '') {
      this.queue.active = null;
      this.failed(task.task_id, 'no_wake_command_configured');
      this.send({
        type: 'wake_result',
        task_id: f.task_id,
        status: 'failed',
        attempt: 0,
        error: 'no_wake_command_configured',
      });
      return;
    }
    const target = task.routing_decision?.target_type;
    void (target && target !== 'wake' ? this.execute(task) : this.legacyWake(task));
  }

  /** With `hold`, execution waits for `release`; a cancelled task sends nothing. */
  private async gate(task: HeldTask): Promise<boolean> {
    if (this.opts.hold) await new Promise<void>((r) => this.gates.set(task.task_id, r));
    return !this.cancelled.has(task.task_id);
  }

  private readonly cancelled = new Set<string>();

  private async execute(task: HeldTask): Promise<void> {
    task.status = 'working';
    const started = Date.now();
    const output = shellOutput(task.metadata.shell_command);
    this.send({
      type: 'task_progress',
      task_id: task.task_id,
      execution_event: {
        event_type: 'stdout',
        text: output,
        tokens_so_far: null,
        model: null,
        timestamp: Date.now(),
      },
    });
    if (!(await this.gate(task))) return;
    const report = {
      task_id: task.task_id,
      run_number: 1,
      status: 'skip',
      started_at: started,
      duration_ms: 0,
      timeout_ms: 120_000,
      checks: [],
      summary: { total: 0, passed: 0, failed: 0, errors: 0, timed_out: 0 },
    };
    this.complete(task.task_id, {
      status: 'success',
      output,
      model_used: 'none',
      tokens_in: 0,
      tokens_out: 0,
      estimated_cost_usd: 0,
      equivalent_claude_cost_usd: null,
      execution_ms: Date.now() - started,
      verification_report: report,
      verification_history: [report],
      verification_status: 'verified',
      verification_attempts: 1,
      termination_reason: null,
      iterations_used: null,
    });
  }

  private async legacyWake(task: HeldTask): Promise<void> {
    task.status = 'waking';
    this.send({ type: 'wake_result', task_id: task.task_id, status: 'success', attempt: 1 });
    task.status = 'waking_confirmation';
    if (!(await this.gate(task))) return;
    this.complete(task.task_id, {
      status: 'success',
      output: 'legacy-ok',
      verification_report: { status: 'auto_pass', checks: [] },
    });
  }

  /** Like the sidecar: verification fields move to the top level, generation from the task_assign or 0. */
  private complete(taskId: string, result: Record<string, unknown>): void {
    const { verification_report, verification_history, ...clean } = result;
    this.send({
      type: 'task_complete',
      task_id: taskId,
      result: clean,
      generation: this.generations.get(taskId) ?? 0,
      verification_report: verification_report ?? null,
      verification_history: verification_history ?? null,
    });
    this.generations.delete(taskId);
    if (this.queue.active?.task_id === taskId) this.queue.active = null;
  }

  private failed(taskId: string, reason: string): void {
    this.send({ type: 'task_failed', task_id: taskId, reason, generation: this.generations.get(taskId) ?? 0 });
    this.generations.delete(taskId);
  }

  close(): void {
    this.stopTimers();
    this.client.close();
  }
}

const COMPAT = {
  description: 'compat',
  complexity_tier: 'trivial',
  metadata: { shell_command: 'echo compat-ok' },
  skip_verification: true,
};

async function violations(hub: TestHub): Promise<number> {
  return (await api(hub.adminUrl, 'GET', '/health', { token: ADMIN_TOKEN })).body.counters.violations;
}

/** Polls GET /api/tasks/:id until `done` holds. */
async function taskUntil(hub: TestHub, token: string, id: string, done: (t: any) => boolean): Promise<any> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const t = (await api(hub.url, 'GET', `/api/tasks/${id}`, { token })).body;
    if (done(t)) return t;
    if (Date.now() > deadline) throw new Error(`task ${id} stuck: ${JSON.stringify(t)}`);
    await sleep(20);
  }
}

describe('a scripted client speaking exactly like the original sidecar', () => {
  let hub: TestHub;
  let dataDir: string;
  const tok: Record<string, string> = {};
  const agents = ['sc-1', 'sc-2', 'sc-3', 'sc-4', 'sc-5', 'sc-6', 'sc-7', 'sc-8', 'sc-9', 'submitter'];
  const submit = (body: object) => api(hub.url, 'POST', '/api/tasks', { token: tok.submitter, body });

  before(async () => {
    hub = await startTestHub({ rejectCooldownMs: 100 });
    dataDir = hub.dataDir;
    for (const a of agents) tok[a] = await tokenFor(hub, a);
    await whitelist(hub, ...agents);
  });
  after(() => hub.stop());

  test('the §8 compatibility scenario: compat task completes with output "compat-ok\\n"', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-1', tok['sc-1'], { capabilities: ['code', 'sc-1'] });
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-1'] });
    assert.equal(r.status, 201);
    const assign = await sc.client.next('task_assign');
    assert.equal(assign.task_id, r.body.task_id);
    for (const k of ASSIGN_KEYS) assert.ok(k in assign, `task_assign carries ${k} (§2.4)`);
    assert.equal(assign.generation, 1);
    assert.deepEqual(assign.metadata, COMPAT.metadata);
    assert.equal(assign.skip_verification, true);
    assert.equal(assign.complexity.effective_tier, 'trivial');
    assert.equal(assign.routing_decision.target_type, 'sidecar', 'trivial tasks go to the shell executor (§9.14)');
    assert.equal((await sc.client.next('task_ack', (f) => f.status === 'accepted')).task_id, assign.task_id);
    assert.equal((await sc.client.next('task_ack', (f) => f.status === 'complete')).task_id, assign.task_id);
    const t = await api(hub.url, 'GET', `/api/tasks/${assign.task_id}`, { token: tok.submitter });
    assert.equal(t.body.status, 'completed');
    assert.equal(t.body.result.output, 'compat-ok\n');
    assert.equal(t.body.result.status, 'success');
    assert.equal(t.body.generation, 1, 'generation round-trips');
    assert.equal(t.body.verification_report.status, 'skip');
    assert.equal(t.body.verification_history.length, 1);
    assert.deepEqual(sc.errors(), []);
    assert.equal(await violations(hub), 0);
    sc.close();
  });

  test('pings get pongs, and unknown fields on every frame are ignored', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-2', tok['sc-2'], { pingMs: 20 });
    const until = Date.now() + 5000;
    while (sc.pongs < 5 && Date.now() < until) await sleep(10);
    assert.ok(sc.pongs >= 5, 'every ping is answered');
    const pong = sc.client.frames.find((f) => f.type === 'pong');
    assert.equal(typeof pong.timestamp, 'number');
    sc.resourceReport();
    sc.send({ type: 'ollama_report', ollama_url: 'http://127.0.0.1:11434', gpu: 'none' });
    assert.equal((await sc.client.next('ollama_report_ack')).status, 'registered');
    sc.send({ type: 'wake_result', task_id: 'task-0000000000000000', status: 'success', attempt: 1, extra: [1] });
    sc.send({ type: 'status', status: 'idle', mood: 'fine' });
    await sc.client.next('status_updated');
    const me = (await api(hub.url, 'GET', '/api/agents')).body.agents.find((a: any) => a.agent_id === 'sc-2');
    assert.equal(me.protocol_version, 1, 'protocol_version is recorded per connection');
    assert.deepEqual([me.name, me.capabilities], ['sc-2', ['code']]);
    assert.deepEqual(
      [me.resources.cpu_percent, me.resources.ram_used_bytes, me.resources.ram_total_bytes],
      [12.5, 2_000_000_000, 8_000_000_000],
      'resource figures are shown in presence',
    );
    const listed = (await sc.client.request({ type: 'list_agents' }, 'agents')).agents.find(
      (a: any) => a.agent_id === 'sc-2',
    );
    assert.deepEqual([listed.protocol_version, listed.resources.cpu_percent], [1, 12.5], 'list_agents shows them too');
    assert.ok(sc.pingsSent >= sc.pongs);
    assert.equal(sc.pongMisses, 0);
    assert.deepEqual(sc.errors(), []);
    assert.equal(await violations(hub), 0);
    sc.close();
  });

  test('a standard task comes with routing_decision null and completes over the legacy wake path', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-3', tok['sc-3'], { capabilities: ['sc-3'] });
    const r = await submit({ description: 'write the design notes', needed_capabilities: ['sc-3'] });
    const assign = await sc.client.next('task_assign');
    assert.equal(assign.routing_decision, null);
    assert.equal(assign.complexity.effective_tier, 'standard');
    await sc.client.next('task_ack', (f) => f.status === 'complete');
    const t = await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter });
    assert.deepEqual([t.body.status, t.body.result.output], ['completed', 'legacy-ok']);
    assert.deepEqual(sc.errors(), []);
    sc.close();
  });

  test('no wake_command: three task_failed in a row send the task to dead letter, each echoing its generation', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-4', tok['sc-4'], {
      capabilities: ['sc-4'],
      wakeCommand: '',
    });
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-4'] });
    const gens: number[] = [];
    for (let i = 0; i < 3; i++) gens.push((await sc.client.next('task_assign')).generation);
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push((await sc.client.next('task_ack', (f) => f.status !== 'accepted')).status);
    assert.deepEqual(acks, ['retried', 'retried', 'dead_letter']);
    assert.deepEqual(gens, [1, 3, 5], 'each retry bumps the generation and the next assign bumps it again');
    const t = await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter });
    assert.deepEqual(
      [t.body.status, t.body.retry_count, t.body.max_retries, t.body.last_error],
      ['dead_letter', 3, 3, 'no_wake_command_configured'],
    );
    const dl = await api(hub.url, 'GET', '/api/tasks/dead-letter', { token: tok.submitter });
    assert.ok(dl.body.tasks.some((x: { id: string }) => x.id === r.body.task_id));
    assert.deepEqual(sc.errors(), [], 'the trailing wake_result frames are accepted silently');
    assert.equal(await violations(hub), 0);
    sc.close();
  });

  test('busy: a task pushed while one runs gets task_rejected {reason:"busy"}; the running one still completes', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-5', tok['sc-5'], { capabilities: ['sc-5'], hold: true });
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-5'] });
    const assign = await sc.client.next('task_assign');
    const pushed = await api(hub.adminUrl, 'POST', '/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'sc-5', description: 'while busy' },
    });
    assert.equal(pushed.status, 200);
    const second = await sc.client.next('task_assign', (f) => f.task_id === pushed.body.task_id);
    assert.deepEqual([second.generation, second.routing_decision], [0, null], 'admin push: generation 0, no routing');
    await sleep(50);
    sc.release(assign.task_id);
    await sc.client.next('task_ack', (f) => f.status === 'complete');
    const t = await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter });
    assert.deepEqual([t.body.status, t.body.result.output], ['completed', 'compat-ok\n']);
    assert.deepEqual(sc.errors(), []);
    assert.equal(await violations(hub), 0);
    sc.close();
  });

  test('a queued task rejected as busy goes back to its lane at once with no retry counted', async () => {
    const busy = await ScriptedSidecar.start(hub.wsUrl, 'sc-6', tok['sc-6'], { capabilities: ['sc-6'] });
    // the sidecar believes it still holds a task the hub never gave it: every offer is refused
    busy.queue.active = {
      task_id: 'task-ffffffffffffffff',
      description: 'left over',
      metadata: {},
      status: 'working',
      assigned_at: Date.now(),
      generation: 9,
      routing_decision: null,
    };
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-6'] });
    await busy.client.next('task_assign', (f) => f.task_id === r.body.task_id);
    await taskUntil(hub, tok.submitter, r.body.task_id, (t) => t.status === 'queued');
    busy.queue.active = null;
    const again = await busy.client.next('task_assign', (f) => f.task_id === r.body.task_id);
    assert.ok(again.generation > 1);
    await busy.client.next('task_ack', (f) => f.status === 'complete' && f.task_id === r.body.task_id);
    const t = await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter });
    assert.deepEqual([t.body.status, t.body.retry_count], ['completed', 0]);
    assert.ok(t.body.history.some((h: { event: string }) => h.event === 'rejected'));
    assert.deepEqual(busy.errors(), []);
    assert.equal(await violations(hub), 0);
    busy.close();
  });

  test('cancel over HTTP reaches the sidecar as task_cancelled and it drops the task', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-7', tok['sc-7'], { capabilities: ['sc-7'], hold: true });
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-7'] });
    await sc.client.next('task_assign');
    await sc.client.next('task_ack', (f) => f.status === 'accepted');
    const c = await api(hub.url, 'POST', `/api/tasks/${r.body.task_id}/cancel`, { token: tok.submitter });
    assert.deepEqual(c.body, { status: 'cancelled', task_id: r.body.task_id, previous_status: 'assigned' });
    const cancelled = await sc.client.next('task_cancelled');
    assert.equal(cancelled.task_id, r.body.task_id);
    assert.equal(typeof cancelled.timestamp, 'number');
    assert.equal(sc.queue.active, null);
    sc.close();
  });

  test('restart_sidecar is answered with agent_restarting and a close, which the hub takes without complaint', async () => {
    const watcher = await ScriptedSidecar.start(hub.wsUrl, 'sc-8', tok['sc-8']);
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-9', tok['sc-9']);
    const r = await api(hub.adminUrl, 'POST', '/admin/agents/sc-9/restart', {
      token: ADMIN_TOKEN,
      body: { reason: 'upgrade' },
    });
    assert.deepEqual(r.body, { status: 'restart_commanded', agent_id: 'sc-9', reason: 'upgrade' });
    assert.deepEqual(await sc.client.next('restart_sidecar'), { type: 'restart_sidecar', reason: 'upgrade' });
    const changed = await watcher.client.next('status_changed', (f) => f.agent.agent_id === 'sc-9');
    assert.equal(changed.agent.status, 'restarting', 'agent_restarting marks the agent');
    await sc.client.waitClose();
    await watcher.client.next('agent_left', (f) => f.agent_id === 'sc-9');
    const none = await api(hub.adminUrl, 'POST', '/admin/agents/sc-9/restart', { token: ADMIN_TOKEN, body: {} });
    assert.deepEqual([none.status, none.body.error], [404, 'agent_not_connected']);
    assert.deepEqual(sc.errors(), []);
    assert.equal(await violations(hub), 0);
    watcher.close();
  });

  test('a socket drop mid-task: the sidecar reconnects and reports state; the task ends completed exactly once', async () => {
    const sc = await ScriptedSidecar.start(hub.wsUrl, 'sc-1', tok['sc-1'], { capabilities: ['sc-1'], hold: true });
    const r = await submit({ ...COMPAT, needed_capabilities: ['sc-1'] });
    const assign = await sc.client.next('task_assign');
    await sc.client.next('task_ack', (f) => f.status === 'accepted');
    await sc.reconnect(hub.wsUrl);
    const ack = await sc.client.next('state_report_ack');
    assert.equal(ack.task_id, assign.task_id);
    // the disconnect already returned the task to its lane, so the old assignment is over
    assert.equal(ack.action, 'abort');
    // the first run finishes late; whatever the hub offered meanwhile runs too
    sc.release(assign.task_id);
    const until = Date.now() + 5000;
    let t: any;
    do {
      await sleep(20);
      for (const f of sc.client.frames) if (f.type === 'task_assign') sc.release(f.task_id);
      t = (await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter })).body;
    } while (t.status !== 'completed' && Date.now() < until);
    assert.equal(t.status, 'completed');
    assert.equal(t.result.output, 'compat-ok\n');
    assert.equal(t.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
    assert.equal(t.retry_count, 0, 'a disconnect is a reclaim, not a retry');
    for (const e of sc.errors()) assert.match(e.error, /^task_complete_failed: /, 'only a fenced late result');
    assert.equal(await violations(hub), 0);
    sc.close();
    await sleep(50);
  });

  test('a crash mid-task: on restart task_recovering gets task_reassign when the task went elsewhere', async () => {
    const doomed = await ScriptedSidecar.start(hub.wsUrl, 'sc-2', tok['sc-2'], {
      capabilities: ['crashy'],
      hold: true,
    });
    const r = await submit({ ...COMPAT, needed_capabilities: ['crashy'] });
    await doomed.client.next('task_assign');
    await doomed.client.next('task_ack', (f) => f.status === 'accepted');
    doomed.crash();
    const heir = await ScriptedSidecar.start(hub.wsUrl, 'sc-3', tok['sc-3'], { capabilities: ['crashy'] });
    await heir.client.next('task_ack', (f) => f.status === 'complete' && f.task_id === r.body.task_id);
    // a restarted process finds the task in queue.json and moves it to the recovering slot
    const reborn = await ScriptedSidecar.start(hub.wsUrl, 'sc-2', tok['sc-2'], {
      capabilities: ['crashy'],
      queue: { active: null, recovering: doomed.queue.active },
    });
    const reply = await reborn.client.next('task_reassign');
    assert.deepEqual(reply, { type: 'task_reassign', task_id: r.body.task_id });
    assert.equal(reborn.queue.recovering, null);
    const t = await api(hub.url, 'GET', `/api/tasks/${r.body.task_id}`, { token: tok.submitter });
    assert.deepEqual([t.body.status, t.body.assigned_to], ['completed', 'sc-3']);
    assert.deepEqual(reborn.errors(), []);
    for (const s of [heir, reborn]) s.close();
    await sleep(50);
  });

  test('hub restart mid-task: state_report gets continue, task_recovering gets task_continue, results land', async () => {
    const worker = await ScriptedSidecar.start(hub.wsUrl, 'sc-4', tok['sc-4'], { capabilities: ['rs'], hold: true });
    const crashed = await ScriptedSidecar.start(hub.wsUrl, 'sc-5', tok['sc-5'], { capabilities: ['rs'], hold: true });
    const a = await submit({ ...COMPAT, needed_capabilities: ['rs'] });
    const b = await submit({ ...COMPAT, metadata: { shell_command: 'echo second' }, needed_capabilities: ['rs'] });
    const assigns = new Map<string, any>();
    for (const s of [worker, crashed]) {
      assigns.set(s.agentId, await s.client.next('task_assign'));
      await s.client.next('task_ack', (x) => x.status === 'accepted');
    }
    await hub.stop({ keepData: true });
    crashed.crash();
    hub = await startTestHub({ rejectCooldownMs: 100 }, dataDir);

    // sc-4's process lived on and dials the restarted hub
    await worker.reconnect(hub.wsUrl);
    const report = await worker.client.next('state_report_ack');
    assert.deepEqual(report, { type: 'state_report_ack', task_id: assigns.get('sc-4').task_id, action: 'continue' });
    const state = await api(hub.url, 'GET', '/api/agents/sc-4/state', { token: tok.submitter });
    assert.equal(state.body.fsm_state, 'working', 'continue moves the FSM to working (§9.8)');
    // sc-5's process died; restarted, it finds its task in queue.json and reports it as recovering
    const reborn = await ScriptedSidecar.start(hub.wsUrl, 'sc-5', tok['sc-5'], {
      capabilities: ['rs'],
      queue: { active: null, recovering: crashed.queue.active },
    });
    const cont = await reborn.client.next('task_continue');
    assert.deepEqual(cont, { type: 'task_continue', task_id: assigns.get('sc-5').task_id, generation: 1 });
    assert.equal(reborn.queue.active?.task_id, assigns.get('sc-5').task_id, 'recovering moved back to active');

    worker.release(assigns.get('sc-4').task_id);
    await worker.client.next('task_ack', (f) => f.status === 'complete');
    // the recovered task's result arrives as the sidecar would send it, with the generation task_continue gave
    reborn.send({
      type: 'task_complete',
      task_id: cont.task_id,
      generation: reborn.generations.get(cont.task_id) ?? 0,
      result: { status: 'success', output: shellOutput(reborn.queue.active?.metadata.shell_command) },
      verification_report: null,
      verification_history: null,
    });
    await reborn.client.next('task_ack', (f) => f.status === 'complete');
    const outputs = [];
    for (const id of [a.body.task_id, b.body.task_id]) {
      const t = await api(hub.url, 'GET', `/api/tasks/${id}`, { token: tok.submitter });
      assert.deepEqual([t.body.status, t.body.generation], ['completed', 1], 'no reclaim, no new generation');
      assert.ok(!t.body.history.some((h: { event: string }) => h.event === 'reclaimed'));
      outputs.push(t.body.result.output);
    }
    assert.deepEqual(outputs, ['compat-ok\n', 'second\n']);
    assert.deepEqual([...worker.errors(), ...reborn.errors()], []);
    assert.equal(await violations(hub), 0);
    worker.close();
    reborn.close();
  });
});
