import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BENCH_OPTIONS } from '../bench/options.js';
import { defaultOf, envName, HUB_OPTIONS } from '../main/config.js';
import { isPretty } from '../main/log.js';
import { RESTORE_OPTIONS } from '../ops/restore.js';
import { type ConfigKey, ConfigSchema } from '../shared/config.js';
import { api, tempDir } from './helpers/hub.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The test runner's environment without AGENTCOM_* / PORT, so only what a test passes configures the child. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('AGENTCOM_') && k !== 'PORT' && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return { ...env, ...extra };
}

/** A tool run to its end from its TypeScript source. */
function run(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const running: ChildProcess[] = [];
after(() => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts the hub, waits until stdout shows `until`, stops it with SIGTERM; returns what it wrote. */
async function hubOutput(args: string[], until: RegExp, env: Record<string, string> = {}) {
  const data = tempDir();
  const p = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'main/index.ts',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--admin-port',
      '0',
      '--data',
      data,
      ...args,
    ],
    { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.push(p);
  let out = '';
  let err = '';
  p.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    p.stdout?.on('data', (d) => {
      out += d;
      if (until.test(out)) resolve();
    });
    exited.then((code) => reject(new Error(`hub exited (${code}): ${err}`)));
  });
  return {
    out: () => out,
    err: () => err,
    data,
    async stop() {
      p.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      return { out, err };
    },
  };
}

describe('--help, generated from each tool’s option table', () => {
  test('the hub lists every config key as a flag with its env name and default', () => {
    for (const args of [['--help'], ['-h'], ['--port', '1', '-h']]) {
      const r = run('main/index.ts', args);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^Usage: npm start -- \[options\]/);
      // each option's block runs from its flag to the next flag
      const blocks = new Map(r.out.split(/\n(?= {2}(?:-\w, )?--)/).map((b) => [/--([a-z-]+)/.exec(b)?.[1], b]));
      for (const k of Object.keys(ConfigSchema.entries) as ConfigKey[]) {
        const block = blocks.get(kebab(k)) ?? '';
        assert.ok(
          `${block}\n`.includes(`env ${envName(k)} · default ${JSON.stringify(defaultOf(k))}\n`),
          `${k}: ${block}`,
        );
      }
      assert.ok(blocks.get('config')?.endsWith('env AGENTCOM_CONFIG'), blocks.get('config'));
    }
  });

  test('restore and the bench list every flag with its env name and default', () => {
    for (const [script, options] of [
      ['ops/restore.ts', RESTORE_OPTIONS],
      ['bench/index.ts', BENCH_OPTIONS],
    ] as const) {
      const r = run(script, ['--help']);
      assert.equal(r.code, 0, `${script}: ${r.err}`);
      assert.match(r.out, /^Usage: npm run (restore|bench) -- /);
      for (const o of options) {
        assert.ok(r.out.includes(`--${o.name}`), `${script} --${o.name}`);
        if (o.env) assert.ok(r.out.includes(`env ${o.env}`), `${script} ${o.env}`);
        if (o.default) assert.ok(r.out.includes(`default ${o.default}`), `${script} default of --${o.name}`);
      }
    }
  });

  test('the README configuration table is the config schema: every flag, env name and default', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `--([a-z-]+)` +\| `(AGENTCOM_[A-Z_]+)` +\| `([^`]*)` +\|/gm)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    const expected = HUB_OPTIONS.filter((o) => o.name !== 'help' && o.name !== 'config').map((o) => [
      o.name,
      o.env,
      o.default,
    ]);
    assert.deepEqual(rows, expected);
  });
});

describe('a configuration the hub cannot use is one line and exit 2', () => {
  const file = join(tempDir(), 'hub.json');
  const cases: Array<[what: string, args: string[], env: Record<string, string>, line: RegExp]> = [
    [
      'a missing config file',
      ['--config', '/nonexistent/hub.json'],
      {},
      /config file \/nonexistent\/hub\.json: not found/,
    ],
    ['bad JSON in an env var', [], { AGENTCOM_BACKOFF_MS: '[1,' }, /AGENTCOM_BACKOFF_MS: not valid JSON/],
    ['an unknown key in the config file', ['--config', file], {}, /config file .*: unknown key "prot"/],
    ['an unknown flag', ['--prot', '4000'], {}, /unknown flag --prot \(see --help\)/],
    ['a bad value', ['--port', 'many'], {}, /--port: "many" is not a number/],
    [
      'a value out of range',
      ['--log-format', 'fancy'],
      {},
      /invalid configuration: --log-format \(AGENTCOM_LOG_FORMAT\)/,
    ],
    [
      'a log file that cannot be written',
      ['--log-file', join(file, 'logs', 'hub.log')],
      {},
      /--log-file .*: cannot write in .* \(ENOTDIR\)/,
    ],
  ];
  for (const [what, args, env, line] of cases) {
    test(what, () => {
      writeFileSync(file, JSON.stringify({ prot: 4000 }));
      const r = run('main/index.ts', args, env);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, line);
      assert.equal(r.err.split('\n').filter(Boolean).length, 1, `one line: ${r.err}`);
      assert.match(r.err, /^agentcom: /);
      assert.equal(r.out, '');
    });
  }
});

describe('logs and the first screen', () => {
  test('pretty output on a terminal (auto) or when asked; JSON lines otherwise', () => {
    assert.deepEqual(
      [isPretty('auto', true), isPretty('auto', false), isPretty('pretty', false), isPretty('json', true)],
      [true, false, true, false],
    );
  });

  test('--log-format pretty prints readable lines: where it listens (bound address) and where the data is', async () => {
    const hub = await hubOutput(['--log-format', 'pretty'], /admin_token_from/);
    const { out } = await hub.stop();
    assert.match(out, /^\[[\d:.]+\] INFO: hub listening$/m);
    assert.match(out, /^ {4}public_bind: "127\.0\.0\.1:\d+"$/m);
    assert.match(out, /^ {4}admin_bind: "127\.0\.0\.1:\d+"$/m);
    assert.match(out, new RegExp(`^ {4}data: "${hub.data}"$`, 'm'));
    assert.ok(!out.split('\n').some((l) => l.startsWith('{')), 'no JSON lines');
  });

  test('a generated admin token goes to stderr only, never into the JSON log; it works', async () => {
    const hub = await hubOutput([], /"hub listening"/);
    await new Promise((r) => setTimeout(r, 100));
    const token = /^ {4}([0-9a-f]{64})$/m.exec(hub.err())?.[1];
    assert.ok(token, `the token on stderr: ${hub.err()}`);
    const lines = hub
      .out()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const listening = lines.find((l) => l.msg === 'hub listening');
    assert.match(listening.admin_token_from, /^generated now: printed once on stderr/);
    const r = await api(listening.admin, 'GET', '/admin/tokens', { token });
    assert.equal(r.status, 200);
    const { out } = await hub.stop();
    assert.ok(!out.includes(token), 'the token is not in the log stream');
  });

  test('--log-file writes JSON lines to a file rotated by size', async () => {
    const dir = tempDir();
    const hub = await hubOutput(
      ['--log-file', join(dir, 'hub.log'), '--log-file-size', '1k', '--log-file-keep', '3'],
      /"hub listening"/,
      { AGENTCOM_ADMIN_TOKEN: 'file-test-token' },
    );
    const { out } = await hub.stop();
    assert.ok(out.includes('"hub listening"'), 'stdout keeps its JSON lines');
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 2 && files.every((f) => /^hub\.\d+\.log$/.test(f)), files.join(', '));
    const lines = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    const msgs = lines.map((l) => JSON.parse(l).msg);
    assert.ok(msgs.includes('hub listening') && msgs.includes('hub stopped'), msgs.join(', '));
  });
});
