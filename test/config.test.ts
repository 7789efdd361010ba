import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../main/config.js';
import { tempDir } from './helpers/hub.js';

describe('configuration', () => {
  test('defaults match the design card', () => {
    const c = loadConfig([], {});
    assert.equal(c.port, 4000);
    assert.equal(c.adminPort, 4001);
    assert.equal(c.adminHost, '127.0.0.1');
    assert.equal(c.data, './data');
    assert.equal(c.maxDepth, 32);
    assert.equal(c.taskTtlMs, 0);
    assert.deepEqual([c.compactIntervalMs, c.compactMinFragmentation], [6 * 3600_000, 0.1]);
  });

  test('flags win over env, env over the config file', () => {
    const file = join(tempDir(), 'c.json');
    writeFileSync(file, JSON.stringify({ port: 1, adminPort: 2, mailboxMax: 3 }));
    const c = loadConfig(['--config', file, '--port', '7000'], { AGENTCOM_ADMIN_PORT: '7001' });
    assert.equal(c.port, 7000);
    assert.equal(c.adminPort, 7001);
    assert.equal(c.mailboxMax, 3);
    const fromEnv = loadConfig([], { AGENTCOM_CONFIG: file, AGENTCOM_PORT: '7000' });
    assert.deepEqual([fromEnv.port, fromEnv.adminPort, fromEnv.mailboxMax], [7000, 2, 3]);
  });

  test('PORT is honoured as the original hub did, and --flag=value works', () => {
    assert.equal(loadConfig([], { PORT: '5000' }).port, 5000);
    assert.equal(loadConfig([], { PORT: '5000', AGENTCOM_PORT: '5001' }).port, 5001, 'PORT is below AGENTCOM_PORT');
    assert.equal(loadConfig([], { PORT: '' }).port, loadConfig([], {}).port, 'an empty PORT is unset');
    assert.throws(() => loadConfig([], { PORT: 'x' }), /^Error: PORT: "x" is not a number$/);
    assert.equal(loadConfig(['--log-level=warn'], {}).logLevel, 'warn');
    assert.deepEqual(loadConfig([], { AGENTCOM_BACKOFF_MS: '[1,2]' }).backoffMs, [1, 2]);
    assert.equal(loadConfig(['--compact-min-fragmentation', '0.25'], {}).compactMinFragmentation, 0.25);
  });

  test('bad values and unknown flags are refused with a clear message', () => {
    assert.throws(() => loadConfig(['--port', 'abc'], {}), ConfigError);
    assert.throws(() => loadConfig(['--nope', '1'], {}), /unknown flag --nope/);
    assert.throws(() => loadConfig(['--validation-mode', 'lax'], {}), /--validation-mode/);
    assert.throws(() => loadConfig(['--port'], {}), /needs a value/);
    assert.throws(() => loadConfig(['--compact-min-fragmentation', '1.5'], {}), /--compact-min-fragmentation/);
  });
});

describe('start-up failures', () => {
  test('a taken port fails the start cleanly and leaves nothing running', async () => {
    const { startTestHub } = await import('./helpers/hub.js');
    const first = await startTestHub();
    await assert.rejects(startTestHub({ port: first.port }), /EADDRINUSE/);
    await first.stop();
  });
});
