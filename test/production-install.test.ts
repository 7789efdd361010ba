import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOG_TRANSPORTS } from '../main/log.js';
import { connectAgent } from './helpers/client.js';
import { tempDir } from './helpers/hub.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const ADMIN = 'prod-admin-token';

/**
 * What `npm ci --omit=dev` installs, taken from this checkout's node_modules
 * (no network): the dependencies and everything they need, resolved the way
 * node resolves them (nested node_modules first, then the root).
 */
function copyProductionModules(to: string): void {
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    for (let dir = from; ; dir = dirname(dirname(dir))) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) {
        if (seen.has(candidate)) return;
        seen.add(candidate);
        const p = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8'));
        for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) visit(d, candidate);
        return;
      }
      if (dir === ROOT || dirname(dir) === dir) return; // an optional package for another platform
    }
  };
  for (const d of Object.keys(pkg.dependencies)) visit(d, ROOT);
  for (const dir of seen) cpSync(dir, join(to, dir.slice(ROOT.length)), { recursive: true, dereference: true });
}

/** Every module specifier a compiled file imports or requires. */
function specifiersOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => m[1]);
}

const jsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );

/** The test runner's environment without AGENTCOM_* / PORT, so only the flags configure the children. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('AGENTCOM_') && k !== 'PORT' && k !== 'NODE_TEST_CONTEXT' && !k.startsWith('npm_')) env[k] = v;
  return { ...env, ...extra };
}

describe('a production install (npm ci --omit=dev + the built dist/)', () => {
  let app: string;
  const hubs: ChildProcess[] = [];

  before(() => {
    app = tempDir('agentcom-prod-');
    execFileSync(process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(app, 'dist'),
    ]);
    // what `npm run build` adds to tsc's output: the dashboard's page files
    cpSync(join(ROOT, 'main/http/dashboard'), join(app, 'dist/main/http/dashboard'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'ops/admin.sh', 'ops/build-if-dev.mjs']) {
      mkdirSync(dirname(join(app, f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(app, f));
    }
    copyProductionModules(app);
  });
  after(() => {
    for (const h of hubs) h.kill('SIGKILL');
    rmSync(app, { recursive: true, force: true });
  });

  const npm = (...args: string[]) =>
    spawnSync('npm', ['run', '--silent', ...args], { cwd: app, env: cleanEnv(), encoding: 'utf8' });

  test('the compiled hub, workers and ops import only dependencies (and node builtins)', () => {
    assert.ok(!existsSync(join(app, 'node_modules/tsx')) && !existsSync(join(app, 'node_modules/typescript')));
    const builtins = new Set(builtinModules);
    const bad: string[] = [];
    for (const file of jsFiles(join(app, 'dist'))) {
      for (const s of specifiersOf(file)) {
        if (s.startsWith('.') || s.startsWith('node:') || builtins.has(s)) continue;
        const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
        if (!(name in pkg.dependencies)) bad.push(`${file.slice(app.length)} → ${s}`);
      }
    }
    assert.deepEqual(bad, []);
    assert.match(
      pkg.scripts.build,
      /&& cp -r main\/http\/dashboard dist\/main\/http\/ &&/,
      'this test copies what the build copies',
    );
    for (const t of LOG_TRANSPORTS)
      assert.ok(t in pkg.dependencies, `the log transport ${t} is loaded by name at run time`);
    for (const s of ['start', 'restore', 'import', 'prestart', 'prerestore', 'preimport'])
      assert.doesNotMatch(pkg.scripts[s], /tsx|tsc|npm run build/, `npm run ${s} must not need a dev dependency`);
  });

  test('--help of the hub, restore and import', () => {
    for (const [script, usage] of [
      ['start', /^Usage: npm start -- \[options\]/],
      ['restore', /^Usage: npm run restore -- --from/],
      ['import', /^Usage: npm run import -- --from/],
    ] as const) {
      const r = npm(script, '--', '--help');
      assert.equal(r.status, 0, `${script}: ${r.stderr}`);
      assert.match(r.stdout, usage, script);
    }
  });

  test('import tokens, start the hub from dist, back up with ops/admin.sh, stop, restore', async () => {
    const data = join(app, 'data');
    const priv = join(app, 'priv');
    mkdirSync(priv);
    const token = 'ab'.repeat(32);
    writeFileSync(join(priv, 'tokens.json'), JSON.stringify({ [token]: 'veteran' }));
    const imported = npm('import', '--', '--from', priv, '--data', data);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /imported 1 token\(s\) for 1 agent\(s\): veteran/);

    const flags = ['--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--data', data];
    const hub = spawn(process.execPath, ['dist/main/index.js', ...flags], {
      cwd: app,
      env: cleanEnv({ AGENTCOM_ADMIN_TOKEN: ADMIN }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    hubs.push(hub);
    const exited = new Promise<number | null>((r) => hub.once('exit', (code) => r(code)));
    const listening = await new Promise<Record<string, string>>((resolve, reject) => {
      let buf = '';
      hub.stdout?.on('data', (d) => {
        buf += d;
        for (const line of buf.split('\n')) {
          if (line.includes('"hub listening"')) resolve(JSON.parse(line));
        }
      });
      exited.then((code) => reject(new Error(`the hub exited (${code})`)));
    });
    const c = await connectAgent(listening.ws, 'veteran', token);
    c.close();
    const page = await fetch(`${listening.admin}/dashboard`);
    assert.equal(page.status, 200, 'the dashboard page files are in dist');

    const backup = spawnSync('bash', [join(app, 'ops/admin.sh'), 'backup'], {
      env: cleanEnv({ AGENTCOM_ADMIN_URL: listening.admin, AGENTCOM_ADMIN_TOKEN: ADMIN }),
      encoding: 'utf8',
    });
    assert.equal(backup.status, 0, backup.stderr);
    const path = JSON.parse(backup.stdout).path as string;
    hub.kill('SIGTERM');
    assert.equal(await exited, 0);

    const restored = npm('restore', '--', '--from', path, '--data', data);
    assert.equal(restored.status, 0, restored.stderr);
    assert.match(restored.stdout, /restore complete\n$/);
  });
});
