import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectAgent, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, tempDir, tokenFor } from './helpers/hub.js';
import { run } from './helpers/run.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `npm run import -- …` as its source: the exit code and what it printed. */
const runImport = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'ops/import.ts', ...args], { cwd: ROOT });

const hex = (c: string) => c.repeat(64);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An original hub's priv/ folder holding `tokens` as its tokens.json. */
function origPriv(tokens: unknown): string {
  const priv = join(tempDir('agentcom-orig-'), 'priv');
  dirs.push(priv);
  mkdirSync(priv);
  writeFileSync(join(priv, 'tokens.json'), JSON.stringify(tokens, null, 2));
  return priv;
}

describe('npm run import: the original hub’s tokens', () => {
  test('every valid token is imported hashed, the rest reported; the agents identify with their old tokens', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const before = await startTestHub({}, dataDir);
    const carol = await tokenFor(before, 'carol');
    await before.stop({ keepData: true });
    const priv = origPriv({
      [hex('a')]: 'alice',
      [hex('b')]: 'bob',
      [hex('c')]: 'bob',
      [hex('d')]: 'not an id!',
      [hex('e')]: 42,
      'has space': 'dave',
      [carol]: 'carol',
    });
    const r = await runImport(['--from', priv, '--data', dataDir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^imported 3 token\(s\) for 2 agent\(s\): alice, bob$/m);
    assert.match(r.out, /^skipped 4:$/m);
    assert.match(r.out, /^ {2}dddddddd\.\.\.: agent id "not an id!" is refused here: only letters, digits/m);
    assert.match(r.out, /^ {2}eeeeeeee\.\.\.: malformed entry: the agent id is not a string$/m);
    assert.match(r.out, /^ {2}\(malformed\): malformed token/m);
    assert.match(r.out, new RegExp(`^  ${carol.slice(0, 8)}\\.\\.\\.: already present$`, 'm'));
    assert.ok(!r.out.includes(hex('a')), 'the report never shows a whole token');
    const registry = readFileSync(join(dataDir, 'registry', 'registry.mdb'));
    assert.equal(registry.indexOf(hex('a')), -1, 'tokens are stored hashed, never as they are');

    const hub = await startTestHub({}, dataDir);
    try {
      for (const [agent, token] of [
        ['alice', hex('a')],
        ['bob', hex('b')],
        ['bob', hex('c')],
        ['carol', carol],
      ]) {
        const c = await connectAgent(hub.wsUrl, agent, token);
        c.close();
        await c.waitClose();
      }
      const refused = await TestClient.open(hub.wsUrl);
      const e = await refused.request({ type: 'identify', agent_id: 'dave', token: 'has space' }, 'error');
      assert.equal(e.error, 'invalid_token');
      refused.close();
      const list = await api(hub.adminUrl, 'GET', '/admin/tokens', { token: ADMIN_TOKEN });
      assert.deepEqual(
        list.body.tokens
          .map((t: { agent_id: string; token_prefix: string }) => `${t.agent_id} ${t.token_prefix}`)
          .sort(),
        ['alice aaaaaaaa...', 'bob bbbbbbbb...', 'bob cccccccc...', `carol ${carol.slice(0, 8)}...`],
      );
    } finally {
      await hub.stop({ keepData: true });
    }
  });

  test('importing again changes nothing: every token is already present', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const priv = origPriv({ [hex('f')]: 'frank' });
    assert.equal((await runImport(['--from', join(priv, 'tokens.json'), '--data', dataDir])).code, 0);
    const again = await runImport(['--from', priv, '--data', dataDir]);
    assert.equal(again.code, 0);
    assert.match(again.out, /^imported 0 token\(s\)$/m);
    assert.match(again.out, /^ {2}ffffffff\.\.\.: already present$/m);
  });

  test('refuses a data directory a hub holds, with one line naming it', async () => {
    const hub = await startTestHub();
    try {
      const r = await runImport(['--from', origPriv({ [hex('a')]: 'alice' }), '--data', hub.dataDir]);
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /^import failed: data directory .* is in use by process \d+ \(agentcom hub\); stop it first\n$/,
      );
    } finally {
      await hub.stop();
    }
  });

  test('a missing token store or a bad command line is one line, never a stack', async () => {
    const empty = tempDir();
    dirs.push(empty);
    const none = await runImport(['--from', empty, '--data', join(empty, 'data')]);
    assert.equal(none.code, 1);
    assert.match(none.err, /^import failed: .*tokens\.json: not found \(give the original hub’s priv\/ folder\)\n$/);
    const bad = origPriv(['not', 'a', 'map']);
    const notMap = await runImport(['--from', bad, '--data', join(empty, 'data')]);
    assert.equal(notMap.code, 1);
    assert.match(notMap.err, /not the original's token store/);
    const usage = await runImport(['--data', join(empty, 'data')]);
    assert.deepEqual([usage.code, usage.err], [2, 'import: --from is required (see --help)\n']);
    const help = await runImport(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage: npm run import -- --from/);
    assert.match(help.out, /--data DIR +the data directory\n +env AGENTCOM_DATA · default \.\/data/);
  });
});
