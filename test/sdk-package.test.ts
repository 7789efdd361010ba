import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../shared/config.js';
import { frameSchemaDocument } from '../shared/schemas/json-schema.js';
import { api, startTestHub, type TestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** What an agent author writes: typed against the packed .d.ts; the @ts-expect-error lines must be errors. */
const CONSUMER_TS = `
import { AgentComError, connect, type HubFrame, type TaskHandler } from '@agentcom/client';
import schema from '@agentcom/client/schema.json' with { type: 'json' };

export async function main(url: string, token: string): Promise<string> {
  const c = await connect({ url, agentId: 'packed', token });
  const sent: { id: string; seq?: number } = await c.send('packed', { hello: 1 });
  const onMessage = (m: HubFrame<'message'>): string => m.from + m.message_type;
  c.on('message', onMessage);
  const work: TaskHandler = async (task, ctx) => ({ id: task.task_id, g: ctx.generation });
  c.worker({ capabilities: ['packed'] }, work);
  // @ts-expect-error a payload is an object
  await c.send('packed', 'text');
  // @ts-expect-error no such field on a message frame
  c.on('message', (m) => m.nope);
  // @ts-expect-error no such event
  c.on('mesage', () => {});
  const e = new AgentComError('queue_full');
  await c.close();
  return sent.id + e.code + String(Object.keys(schema.definitions).length);
}
`;

/** The same, as plain JS run by node from the unpacked tarball. */
const CONSUMER_MJS = `
import { connect } from '@agentcom/client';
const [url, token] = process.argv.slice(2);
const c = await connect({ url, agentId: 'packed', token });
const got = new Promise((resolve) => c.on('message', (m) => resolve(m)));
const sent = await c.send('packed', { hello: 'from the tarball' });
const m = await got;
console.log(JSON.stringify({ same: m.id === sent.id, payload: m.payload }));
await c.close();
`;

describe('the packed client package', () => {
  let dir: string;
  let tarball: string;
  let files: string[];

  before(async () => {
    dir = tempDir('agentcom-pack-');
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    copyFileSync(join(ROOT, 'client/package.json'), join(pkg, 'package.json'));
    await run(process.execPath, ['--import', 'tsx', 'client/scripts/build.ts', '--out', join(pkg, 'dist')], {
      cwd: ROOT,
    });
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: pkg });
    const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(dir, info.filename);
    files = info.files.map((f) => f.path).sort();
    const consumer = join(dir, 'consumer');
    const home = join(consumer, 'node_modules', '@agentcom', 'client');
    mkdirSync(home, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', home, '--strip-components=1']);
    // its one dependency; nothing else from this repo is reachable from the consumer
    symlinkSync(join(ROOT, 'node_modules', 'ws'), join(consumer, 'node_modules', 'ws'));
    writeFileSync(join(consumer, 'package.json'), '{"type":"module"}');
    writeFileSync(join(consumer, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(join(consumer, 'consumer.mjs'), CONSUMER_MJS);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('holds the bundled JS, one .d.ts, the JSON Schema and the license of the inlined valibot types', () => {
    assert.deepEqual(files, [
      'dist/agentcom.schema.json',
      'dist/index.d.ts',
      'dist/index.js',
      'dist/valibot-LICENSE.md',
      'package.json',
    ]);
    const pkg = JSON.parse(readFileSync(join(dir, 'consumer/node_modules/@agentcom/client/package.json'), 'utf8'));
    assert.deepEqual(pkg.dependencies, { ws: '^8.18.0' });
    const js = readFileSync(join(dir, 'consumer/node_modules/@agentcom/client/dist/index.js'), 'utf8');
    const imports = [...js.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    assert.deepEqual(imports, ['ws'], 'the only import is ws');
    const dts = readFileSync(join(dir, 'consumer/node_modules/@agentcom/client/dist/index.d.ts'), 'utf8');
    assert.doesNotMatch(dts, /from ['"](?!\.)/, 'the declarations import nothing');
  });

  test('type-checks an agent written against it with the repo’s TypeScript, and rejects wrong types', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022'];
    const r = await run(process.execPath, [tsc, ...args, '--types', '', '--resolveJsonModule', 'consumer.ts'], {
      cwd: join(dir, 'consumer'),
    }).catch((e: { stdout: string }) => e);
    assert.equal(r.stdout, '', `tsc found errors:\n${r.stdout}`);
  });

  test('runs from the unpacked tarball against a real hub', async () => {
    const hub: TestHub = await startTestHub();
    try {
      const token = await tokenFor(hub, 'packed');
      await whitelist(hub, 'packed');
      const { stdout } = await run(process.execPath, ['consumer.mjs', hub.wsUrl, token], {
        cwd: join(dir, 'consumer'),
      });
      assert.deepEqual(JSON.parse(stdout), { same: true, payload: { hello: 'from the tarball' } });
    } finally {
      await hub.stop();
    }
  });

  test('its JSON Schema file is the one GET /api/schemas serves, entry for entry', async () => {
    const file = JSON.parse(
      readFileSync(join(dir, 'consumer/node_modules/@agentcom/client/dist/agentcom.schema.json'), 'utf8'),
    ) as { definitions: Record<string, unknown> };
    assert.deepEqual(file, frameSchemaDocument(parseConfig({})) as typeof file);
    const hub = await startTestHub();
    try {
      const { body } = await api(hub.url, 'GET', '/api/schemas');
      for (const w of body.schemas.websocket)
        assert.deepEqual(w.json_schema, file.definitions[`client.${w.type}`], w.type);
      for (const h of body.schemas.hub_frames)
        assert.deepEqual(h.json_schema, file.definitions[`hub.${h.type}`], h.type);
      const submit = body.schemas.http.find(
        (r: { method: string; path: string }) => r.method === 'POST' && r.path === '/api/tasks',
      );
      assert.deepEqual(submit.json_schema, file.definitions['http.taskSubmit']);
      // the §3.6 shape old clients read is still there
      assert.deepEqual(Object.keys(body.schemas.websocket[0]).sort(), [
        'description',
        'json_schema',
        'optional_fields',
        'required_fields',
        'type',
      ]);
    } finally {
      await hub.stop();
    }
  });
});
