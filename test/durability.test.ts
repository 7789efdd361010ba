import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, type TestContext, test } from 'node:test';
import { type ChildHub, exitWithin, killChildHubs, spawnChildHub } from './helpers/child-hub.js';
import { connectAgent, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';

const dirs: string[] = [];
after(async () => {
  await killChildHubs();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const d = tempDir('agentcom-durability-');
  dirs.push(d);
  return d;
}

interface MailboxEntry {
  id: string;
  seq: number;
  from: string;
  to: string | null;
  payload: Record<string, unknown>;
}

/** Every entry of an agent's mailbox, paging with `since=last_seq`. */
async function drainMailbox(url: string, agent: string, token: string): Promise<MailboxEntry[]> {
  const out: MailboxEntry[] = [];
  let since = 0;
  for (;;) {
    const r = await api(url, 'GET', `/api/mailbox/${agent}?since=${since}`, { token });
    assert.equal(r.status, 200, `poll ${agent}: ${JSON.stringify(r.body)}`);
    out.push(...r.body.messages);
    if (r.body.count === 0) return out;
    assert.ok(r.body.last_seq > since, 'last_seq moves forward');
    since = r.body.last_seq;
  }
}

/** Every history entry matching `filter`, paging with the returned cursor. */
async function drainHistory(url: string, token: string, filter = ''): Promise<MailboxEntry[]> {
  const out: MailboxEntry[] = [];
  let cursor = 0;
  for (;;) {
    const r = await api(url, 'GET', `/api/messages?limit=200&cursor=${cursor}${filter}`, { token });
    assert.equal(r.status, 200, `history: ${JSON.stringify(r.body)}`);
    out.push(...r.body.messages);
    if (r.body.count === 0) return out;
    cursor = r.body.cursor;
  }
}

const ids = (entries: Array<{ id: string }>) => entries.map((m) => m.id);

describe('graceful restart (in process)', () => {
  let hub: TestHub | undefined;
  after(() => hub?.stop());

  test('mailbox, acks, history, threads, tokens, whitelist and the seq counter survive stop + start', async () => {
    hub = await startTestHub();
    const dataDir = hub.dataDir;
    const tok: Record<string, string> = {};
    for (const id of ['sender', 'offline', 'other', 'gone']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'sender', 'offline', 'other');
    const revoked = await api(hub.adminUrl, 'DELETE', '/admin/tokens/gone', { token: ADMIN_TOKEN });
    assert.equal(revoked.status, 200);

    const s = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push((await s.request({ type: 'message', to: 'offline', payload: { i } }, 'message_sent')).id);
    }
    const bc = (await s.request({ type: 'message', payload: { all: true } }, 'message_sent')).id;
    sent.push(bc);
    const reply = await s.request(
      { type: 'message', to: 'offline', payload: { re: 0 }, reply_to: sent[0] },
      'message_sent',
    );
    sent.push(reply.id);

    const before = await drainMailbox(hub.url, 'offline', tok.offline);
    assert.deepEqual(ids(before), sent, 'offline got every direct message and the broadcast, in order');
    // the first entry is acked before the restart: it must stay acked
    const acked = await api(hub.url, 'POST', '/api/mailbox/offline/ack', {
      token: tok.offline,
      body: { seq: before[0].seq },
    });
    assert.equal(acked.status, 200);
    s.close();

    await hub.stop({ keepData: true });
    hub = await startTestHub({}, dataDir);

    // HTTP poll with the tokens issued before the restart
    const polled = await drainMailbox(hub.url, 'offline', tok.offline);
    assert.deepEqual(
      polled.map((m) => [m.id, m.seq]),
      before.slice(1).map((m) => [m.id, m.seq]),
      'same entries, same seqs, the acked one gone',
    );
    assert.deepEqual(polled.find((m) => m.id === sent[2])?.payload, { i: 2 });
    const otherBox = await drainMailbox(hub.url, 'other', tok.other);
    assert.deepEqual(ids(otherBox), [bc], 'the broadcast copy of another offline agent survived too');

    // WS replay after mailbox_since, before anything live
    const off = await connectAgent(hub.wsUrl, 'offline', tok.offline, { mailbox_since: 0 });
    const replayed = [];
    for (let i = 0; i < polled.length; i++) replayed.push(await off.next('message'));
    assert.deepEqual(
      replayed.map((m) => [m.id, m.seq]),
      polled.map((m) => [m.id, m.seq]),
    );
    off.close();
    await off.waitClose();
    const mid = polled[2].seq;
    const off2 = await connectAgent(hub.wsUrl, 'offline', tok.offline, { mailbox_since: mid });
    const rest = [];
    for (let i = 0; i < polled.filter((m) => m.seq > mid).length; i++) rest.push(await off2.next('message'));
    assert.deepEqual(ids(rest), ids(polled.filter((m) => m.seq > mid)));
    // nothing before mid was replayed
    await off2.request({ type: 'ping' }, 'pong');
    assert.equal(off2.frames.filter((f) => f.type === 'message').length, 0);

    // global history and the thread index
    const hist = await drainHistory(hub.url, tok.offline, '&from=sender');
    assert.deepEqual(ids(hist), sent);
    const root = await api(hub.url, 'GET', `/api/threads/${reply.id}/root?token=${tok.offline}`);
    assert.equal(root.body.root, sent[0]);

    // the old sender token still identifies; the seq counter continues past every old seq
    const s2 = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    await s2.request({ type: 'message', to: 'other', payload: { after: true } }, 'message_sent');
    const fresh = await drainMailbox(hub.url, 'other', tok.other);
    const newest = fresh[fresh.length - 1];
    assert.deepEqual(newest.payload, { after: true });
    assert.ok(
      before.every((m) => m.seq < newest.seq),
      'a new message never reuses an old seq',
    );
    off2.close();

    // a token revoked before the restart stays revoked
    const g = await TestClient.open(hub.wsUrl);
    const refused = await g.request({ type: 'identify', agent_id: 'gone', token: tok.gone }, 'error');
    assert.equal(refused.error, 'invalid_token');
    g.close();

    // the whitelist is persisted
    const limits = await api(hub.adminUrl, 'GET', '/admin/rate-limits', { token: ADMIN_TOKEN });
    assert.deepEqual([...limits.body.whitelist].sort(), ['offline', 'other', 'sender']);
    s2.close();
  });
});

/**
 * Fires `total` messages from `sender` with up to `window` of them unacked at
 * once (every third a broadcast, the rest direct to `to`), records each acked
 * id, and calls `onAck` after every ack (it may kill the hub). `done`
 * resolves when the socket ends.
 */
function fireAndRecord(
  sender: TestClient,
  opts: { total: number; window: number; to: string; onAck: (acked: number) => void },
): { acked: Set<string>; errors: unknown[]; done: Promise<void> } {
  const acked = new Set<string>();
  const errors: unknown[] = [];
  let sent = 0;
  const sendNext = () => {
    if (sent >= opts.total || sender.closed) return;
    const i = sent++;
    sender.send(i % 3 === 0 ? { type: 'message', payload: { i } } : { type: 'message', to: opts.to, payload: { i } });
  };
  sender.ws.on('message', (data) => {
    const f = JSON.parse(String(data));
    if (f.type === 'message_sent') {
      acked.add(f.id);
      opts.onAck(acked.size);
      sendNext();
    } else if (f.type === 'error') {
      errors.push(f);
      sendNext();
    }
  });
  for (let i = 0; i < opts.window; i++) sendNext();
  const done = sender.waitClose(30_000).then(() => undefined);
  return { acked, errors, done };
}

async function killedScenario(t: TestContext, total: number, window: number, at: number, flags: string[] = []) {
  const dir = newDir();
  let hub: ChildHub = await spawnChildHub(dir, { flags });
  const tok: Record<string, string> = {};
  for (const id of ['sender', 'off', 'bystander']) tok[id] = await hub.token(id);
  await hub.whitelist(['sender', 'off', 'bystander']);
  const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
  // a token issued just before the flood (its 201 is the registry's ack) must survive as well
  tok.late = await hub.token('late');

  const { acked, errors, done } = fireAndRecord(sender, {
    total,
    window,
    to: 'off',
    onAck: (n) => {
      if (n === at) hub.proc.kill('SIGKILL');
    },
  });
  await done;
  const exit = await hub.exited;
  assert.equal(exit.signal, 'SIGKILL');
  assert.deepEqual(errors, [], 'no send was refused before the kill');
  assert.ok(acked.size >= at, `${acked.size} acks before the kill`);
  t.diagnostic(`killed at ack ${at}; ${acked.size} of ${total} acked`);

  hub = await spawnChildHub(dir);
  const hist = new Map(
    (await drainHistory(hub.url, tok.off, '&from=sender')).map((m) => [m.id, m.to === null ? 'broadcast' : 'direct']),
  );
  const notInHistory = [...acked].filter((id) => !hist.has(id));
  assert.deepEqual(notInHistory, [], `${notInHistory.length} of ${acked.size} acked messages missing from history`);

  const box = await drainMailbox(hub.url, 'off', tok.off);
  const inBox = new Set(ids(box));
  assert.equal(inBox.size, box.length, 'no mailbox entry twice');
  const lost = [...acked].filter((id) => !inBox.has(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acked messages missing from the offline mailbox`);

  const bystander = new Set(ids(await drainMailbox(hub.url, 'bystander', tok.bystander)));
  const lostBroadcasts = [...acked].filter((id) => hist.get(id) === 'broadcast' && !bystander.has(id));
  assert.deepEqual(lostBroadcasts, [], 'every acked broadcast has its copy in the other offline mailbox');
  assert.ok(
    [...bystander].every((id) => hist.get(id) === 'broadcast'),
    'direct messages were not copied to a bystander',
  );
  assert.ok([...hist.values()].includes('broadcast') && [...hist.values()].includes('direct'));
  const late = await connectAgent(hub.wsUrl, 'late', tok.late);
  late.close();

  hub.proc.kill('SIGTERM');
  assert.equal((await exitWithin(hub, 10_000)).code, 0);
}

describe('kill -9 (child process)', () => {
  test('every message acked before kill -9 mid-stream is in the mailboxes and history after a restart', async (t) => {
    // 30 unacked at a time: the hub is still writing when it dies
    await killedScenario(t, 300, 30, 150);
  });

  test('kill -9 right after the last ack loses nothing that was acked', async (t) => {
    // all 300 fired at once, killed the moment the 300th ack arrives
    await killedScenario(t, 300, 300, 300);
  });

  test('with four batches in flight per domain, kill -9 mid-stream loses nothing that was acked', async (t) => {
    // each batch is answered after its own flush, whatever is queued behind it
    await killedScenario(t, 300, 60, 150, ['--batches-in-flight', '4']);
  });
});

describe('SIGTERM (child process)', () => {
  test('exits 0 within 10 s, closes open sockets with 1001, and keeps every acked message', async (t) => {
    const dir = newDir();
    let hub = await spawnChildHub(dir);
    const tok: Record<string, string> = {};
    for (const id of ['sender', 'watcher', 'off']) tok[id] = await hub.token(id);
    await hub.whitelist(['sender', 'watcher', 'off']);
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const watcher = await connectAgent(hub.wsUrl, 'watcher', tok.watcher);

    let signalled = false;
    const { acked, done } = fireAndRecord(sender, {
      total: 200,
      window: 200,
      to: 'off',
      onAck: () => {
        if (!signalled) {
          signalled = true;
          hub.proc.kill('SIGTERM');
        }
      },
    });
    const exit = await exitWithin(hub, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${hub.stderr()}`);
    assert.equal((await watcher.waitClose()).code, 1001, 'an idle socket is closed with 1001');
    assert.equal((await sender.waitClose()).code, 1001, 'a busy socket is closed with 1001');
    await done;
    assert.ok(acked.size >= 1);
    t.diagnostic(`${acked.size} of 200 acked around SIGTERM`);

    hub = await spawnChildHub(dir);
    const inBox = new Set(ids(await drainMailbox(hub.url, 'off', tok.off)));
    const lost = [...acked].filter((id) => !inBox.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acked messages lost over a graceful shutdown`);
    hub.proc.kill('SIGTERM');
    assert.equal((await exitWithin(hub, 10_000)).code, 0);
  });
});
