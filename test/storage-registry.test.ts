import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
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

/**
 * What is specific to the LMDB registry: only the hash of a token is stored
 * (no record and no file holds the plaintext), and everything is there again
 * after a reopen. What the ops do is the registry contract's (domain-contract).
 */
describe('registry store', () => {
  test('a token is stored only as its SHA-256 hash: the plaintext is in no record and no file', async () => {
    const h = openRegistry();
    const t = h.tx((s) => s.createToken('alice', 1234));
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
  });

  test('the admin token is stored as its hash only; generated once, it is not generated again after a reopen', async () => {
    let h = openRegistry();
    const gen = h.tx((s) => s.ensureAdminToken(''));
    assert.ok(gen.generated);
    assert.ok(!dumpAll(h).includes(gen.generated), 'only the hash is stored');
    h = await reopen(h);
    assert.deepEqual(
      h.tx((s) => s.ensureAdminToken('')),
      { hash: gen.hash },
      'not generated twice',
    );
    h.tx((s) => s.ensureAdminToken('operator-secret'));
    assert.ok(!dumpAll(h).includes('operator-secret'));
    h = await reopen(h);
    assert.deepEqual(
      h.tx((s) => s.ensureAdminToken('')),
      { hash: hashToken('operator-secret') },
    );
  });

  test('tokens, overrides, the whitelist and config survive a reopen, and are counted', async () => {
    let h = openRegistry();
    const t = h.tx((s) => s.createToken('keep', 1));
    h.tx((s) => {
      s.setOverrides('bot', { message: { capacity: 7, per_min: 7 } });
      s.setOverrides('gone', { http: { capacity: 1, per_min: 1 } });
      s.removeOverrides('gone');
      s.setWhitelist(['zed', 'amy']);
      s.removeWhitelist('zed');
      s.setConfig('mailbox_ttl_ms', 5000);
      s.setConfig('alert_thresholds', { queue_depth: 10, nested: { a: [1, 2] } });
      s.setConfig('default_repo', null);
    });
    h = await reopen(h);
    assert.deepEqual(
      h.tx((s) => s.snapshot()),
      {
        tokens: [[t.hash, 'keep']],
        overrides: { bot: { message: { capacity: 7, per_min: 7 } } },
        whitelist: ['amy'],
        config: {
          alert_thresholds: { queue_depth: 10, nested: { a: [1, 2] } },
          default_repo: null,
          mailbox_ttl_ms: 5000,
        },
      },
    );
    assert.deepEqual(h.store.counts(), { tokens: 1, config: 3 });
  });
});
