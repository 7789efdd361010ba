import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ErrorCode, HubError } from '../shared/errors.js';
import { hashToken } from '../shared/tokens.js';
import { type DomainEnv, openDomainEnv } from '../storage/env.js';
import { REGISTRY_DBS, type RegistryDb, RegistryStore } from '../storage/registry.js';
import { tempDir } from './helpers/hub.js';

const opened: Array<DomainEnv<RegistryDb>> = [];
const dirs: string[] = [];
after(async () => {
  for (const env of opened) await env.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Harness {
  env: DomainEnv<RegistryDb>;
  store: RegistryStore;
  dir: string;
  /** one write transaction, as the registry worker runs a batch */
  tx<T>(fn: (s: RegistryStore) => T): T;
}

function openRegistry(dir = tempDir('agentcom-registry-')): Harness {
  if (!dirs.includes(dir)) dirs.push(dir);
  const env = openDomainEnv(dir, 'registry', REGISTRY_DBS);
  opened.push(env);
  const store = new RegistryStore(env);
  return { env, store, dir, tx: (fn) => env.root.transactionSync(() => fn(store)) };
}

async function reopen(h: Harness): Promise<Harness> {
  await h.env.root.flushed;
  await h.env.close();
  opened.splice(opened.indexOf(h.env), 1);
  return openRegistry(h.dir);
}

/** Every key and value of every database, as text. */
function dumpAll(h: Harness): string {
  const parts: string[] = [];
  for (const name of REGISTRY_DBS) {
    for (const { key, value } of h.env.dbs[name].getRange({})) parts.push(JSON.stringify([name, key, value]));
  }
  return parts.join('\n');
}

function expectHubError(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HubError, 'a HubError');
    assert.equal(err.code, code);
    return true;
  });
}

describe('registry store: tokens', () => {
  test('a token is 64 lower-hex, stored only as its SHA-256 hash: the plaintext is in no record and no file', async () => {
    const h = openRegistry();
    const t = h.tx((s) => s.createToken('alice', 1234));
    assert.match(t.token, /^[0-9a-f]{64}$/);
    assert.equal(t.agent_id, 'alice');
    assert.equal(t.hash, hashToken(t.token));
    assert.notEqual(t.hash, t.token);

    const rec = h.env.dbs.tokens.get(t.hash);
    assert.deepEqual(rec, { agent_id: 'alice', prefix: t.token.slice(0, 8), created_at: 1234 });
    assert.equal(h.env.dbs.tokens.get(t.token), undefined, 'not keyed by the plaintext');
    const dump = dumpAll(h);
    assert.ok(!dump.includes(t.token), 'no database holds the plaintext token');
    assert.ok(!dump.includes(t.token.slice(0, 16)), 'nor more than its 8-char prefix');

    await h.env.root.flushed;
    const dir = join(h.dir, 'registry');
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f));
      assert.equal(bytes.indexOf(t.token), -1, `${f} does not contain the plaintext`);
    }

    const snap = h.tx((s) => s.snapshot());
    assert.deepEqual(snap.tokens, [[t.hash, 'alice']]);
  });

  test('several tokens per agent; listTokens shows "<8 hex>..." prefixes, one row per token', () => {
    const h = openRegistry();
    const [a1, a2, b1] = h.tx((s) => [s.createToken('alice', 1), s.createToken('alice', 2), s.createToken('bob', 3)]);
    assert.notEqual(a1.token, a2.token);
    const list = h.tx((s) => s.listTokens({}).items);
    assert.equal(list.length, 3);
    for (const row of list) assert.match(row.token_prefix, /^[0-9a-f]{8}\.\.\.$/);
    assert.deepEqual(list.map((r) => r.agent_id).sort(), ['alice', 'alice', 'bob']);
    const prefixes = new Set(list.map((r) => r.token_prefix));
    for (const t of [a1, a2, b1]) assert.ok(prefixes.has(`${t.token.slice(0, 8)}...`));
    assert.ok(h.tx((s) => s.hasTokens('alice')));
    assert.ok(!h.tx((s) => s.hasTokens('carol')));
  });

  test('onboarding an agent id twice is refused with HubError "agent_id already registered"', () => {
    const h = openRegistry();
    const first = h.tx((s) => s.onboard('newbie', 1));
    assert.match(first.token, /^[0-9a-f]{64}$/);
    expectHubError(() => h.tx((s) => s.onboard('newbie', 2)), ErrorCode.agentIdTaken);
    assert.equal(ErrorCode.agentIdTaken, 'agent_id already registered');
    // an admin-issued token also counts as registered
    h.tx((s) => s.createToken('issued', 1));
    expectHubError(() => h.tx((s) => s.onboard('issued', 2)), ErrorCode.agentIdTaken);
    // the refused onboarding wrote nothing
    assert.equal(h.tx((s) => s.listTokens({}).items).filter((r) => r.agent_id === 'newbie').length, 1);
  });

  test('revoking removes every token of that agent and no other, even with a shared id prefix', () => {
    const h = openRegistry();
    const made = h.tx((s) => [
      s.createToken('ann', 1),
      s.createToken('ann', 1),
      s.createToken('anna', 1),
      s.createToken('an', 1),
    ]);
    const revoked = h.tx((s) => s.revokeAgent('ann'));
    assert.deepEqual([...revoked].sort(), [made[0].hash, made[1].hash].sort());
    const snap = h.tx((s) => s.snapshot());
    assert.deepEqual(snap.tokens.map(([, agent]) => agent).sort(), ['an', 'anna']);
    assert.equal(h.env.dbs.tokens.get(made[0].hash), undefined);
    assert.ok(!h.tx((s) => s.hasTokens('ann')));
    assert.deepEqual(
      h.tx((s) => s.revokeAgent('ann')),
      [],
      'revoking again is a no-op',
    );
    // a revoked agent may onboard again
    assert.equal(h.tx((s) => s.onboard('ann', 2)).agent_id, 'ann');
  });

  test('reset revokes every token and issues one new one; an unknown agent is agent_not_found', () => {
    const h = openRegistry();
    const old = h.tx((s) => [s.createToken('rita', 1), s.createToken('rita', 1)]);
    const r = h.tx((s) => s.resetToken('rita', 5));
    assert.deepEqual([...r.revoked].sort(), old.map((t) => t.hash).sort());
    assert.match(r.token, /^[0-9a-f]{64}$/);
    assert.equal(r.hash, hashToken(r.token));
    const snap = h.tx((s) => s.snapshot());
    assert.deepEqual(snap.tokens, [[r.hash, 'rita']]);
    expectHubError(() => h.tx((s) => s.resetToken('ghost', 5)), ErrorCode.agentNotFound);
  });

  test('tokens survive a reopen', async () => {
    let h = openRegistry();
    const t = h.tx((s) => s.createToken('keep', 1));
    h = await reopen(h);
    assert.deepEqual(h.tx((s) => s.snapshot()).tokens, [[t.hash, 'keep']]);
  });
});

describe('registry store: admin token', () => {
  test('a provided admin token is stored hashed; without one a token is generated once', async () => {
    let h = openRegistry();
    const gen = h.tx((s) => s.ensureAdminToken(''));
    assert.ok(gen.generated, 'generated on first start');
    assert.match(gen.generated, /^[0-9a-f]{64}$/);
    assert.equal(gen.hash, hashToken(gen.generated));
    assert.ok(!dumpAll(h).includes(gen.generated), 'only the hash is stored');
    h = await reopen(h);
    const again = h.tx((s) => s.ensureAdminToken(''));
    assert.deepEqual(again, { hash: gen.hash }, 'not generated twice');
    const provided = h.tx((s) => s.ensureAdminToken('operator-secret'));
    assert.deepEqual(provided, { hash: hashToken('operator-secret') });
    assert.ok(!dumpAll(h).includes('operator-secret'));
    h = await reopen(h);
    assert.deepEqual(
      h.tx((s) => s.ensureAdminToken('')),
      { hash: hashToken('operator-secret') },
    );
  });
});

describe('registry store: config, overrides and whitelist', () => {
  test('overrides merge per agent, can be removed, and persist', async () => {
    let h = openRegistry();
    const first = h.tx((s) => s.setOverrides('bot', { message: { capacity: 5, per_min: 10 } }));
    assert.deepEqual(first, { message: { capacity: 5, per_min: 10 } });
    const merged = h.tx((s) =>
      s.setOverrides('bot', { http: { capacity: 1, per_min: 1 }, message: { capacity: 7, per_min: 7 } }),
    );
    assert.deepEqual(merged, { message: { capacity: 7, per_min: 7 }, http: { capacity: 1, per_min: 1 } });
    h.tx((s) => s.setOverrides('other', { task_submit: { capacity: 2, per_min: 2 } }));
    h = await reopen(h);
    assert.deepEqual(h.tx((s) => s.snapshot()).overrides, {
      bot: { message: { capacity: 7, per_min: 7 }, http: { capacity: 1, per_min: 1 } },
      other: { task_submit: { capacity: 2, per_min: 2 } },
    });
    assert.equal(
      h.tx((s) => s.removeOverrides('bot')),
      true,
    );
    assert.equal(
      h.tx((s) => s.removeOverrides('bot')),
      false,
      'nothing left to remove',
    );
    h = await reopen(h);
    assert.deepEqual(Object.keys(h.tx((s) => s.snapshot()).overrides), ['other']);
  });

  test('the whitelist is replaced, added to, removed from, and persists', async () => {
    let h = openRegistry();
    assert.deepEqual(
      h.tx((s) => s.setWhitelist(['zed', 'amy', 'zed'])),
      ['amy', 'zed'],
      'sorted, without duplicates',
    );
    h.tx((s) => s.addWhitelist('bob'));
    h.tx((s) => s.addWhitelist('bob'));
    h = await reopen(h);
    assert.deepEqual(h.tx((s) => s.snapshot()).whitelist, ['amy', 'bob', 'zed']);
    h.tx((s) => s.removeWhitelist('zed'));
    h.tx((s) => s.removeWhitelist('not-there'));
    assert.deepEqual(h.tx((s) => s.snapshot()).whitelist, ['amy', 'bob']);
    h.tx((s) => s.setWhitelist(['solo']));
    h = await reopen(h);
    assert.deepEqual(h.tx((s) => s.snapshot()).whitelist, ['solo'], 'a replace drops the old entries');
    h.tx((s) => s.setWhitelist([]));
    assert.deepEqual(h.tx((s) => s.snapshot()).whitelist, []);
  });

  test('config values persist as given', async () => {
    let h = openRegistry();
    h.tx((s) => {
      s.setConfig('mailbox_ttl_ms', 5000);
      s.setConfig('alert_thresholds', { queue_depth: 10, nested: { a: [1, 2] } });
      s.setConfig('default_repo', null);
    });
    h = await reopen(h);
    assert.deepEqual(h.tx((s) => s.snapshot()).config, {
      alert_thresholds: { queue_depth: 10, nested: { a: [1, 2] } },
      default_repo: null,
      mailbox_ttl_ms: 5000,
    });
    assert.deepEqual(h.store.counts(), { tokens: 0, config: 3 });
  });
});
