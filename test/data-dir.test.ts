import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  ftruncateSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHub } from '../main/hub.js';
import { restore } from '../ops/restore.js';
import { parseConfig } from '../shared/config.js';
import { compactionMarkFile, restoreMarkFile } from '../shared/data-layout.js';
import { DataDirHeldError, lockDataDir } from '../shared/data-lock.js';
import { readCompactionMarks, readRestoreMark, writeCompactionMark, writeRestoreMark } from '../shared/data-marks.js';
import { OperatorError } from '../shared/errors.js';
import { killChildHubs, spawnChildHub } from './helpers/child-hub.js';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';
import { startLoggedHub } from './helpers/logged-hub.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];
after(async () => {
  await killChildHubs();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const configFor = (data: string, extra: Record<string, unknown> = {}) =>
  parseConfig({
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    data,
    logLevel: 'silent',
    adminToken: ADMIN_TOKEN,
    ...extra,
  });

/** A hub that stored some messages for an offline agent, stopped cleanly; returns its data dir. */
async function dataWithMessages(n: number, backup = false): Promise<{ dataDir: string; backupPath?: string }> {
  const hub = await startTestHub();
  dirs.push(hub.dataDir);
  const a = await tokenFor(hub, 'a');
  await tokenFor(hub, 'offline');
  await whitelist(hub, 'a');
  const c = await connectAgent(hub.wsUrl, 'a', a);
  for (let i = 0; i < n; i++)
    await c.request({ type: 'message', to: 'offline', payload: { i, pad: 'p'.repeat(200) } }, 'message_sent');
  c.close();
  const b = backup ? await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN }) : null;
  await hub.stop({ keepData: true });
  return { dataDir: hub.dataDir, backupPath: b?.body.path };
}

/** Runs a command from the repo root; resolves with its exit code and output. */
function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe('one owner per data directory (§9.30)', () => {
  test('a second hub on a held data directory is refused, naming the directory and the holder’s PID', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    await assert.rejects(startHub(configFor(hub.dataDir)), (err: Error) => {
      assert.ok(err instanceof DataDirHeldError);
      assert.match(
        err.message,
        new RegExp(
          `data directory .*${hub.dataDir.split('/').pop()} is in use by process ${process.pid} \\(agentcom hub\\)`,
        ),
      );
      return true;
    });
    // as a command: exit 1, one line, no stack
    const cli = await run(['main/index.ts', '--port', '0', '--admin-port', '0', '--data', hub.dataDir]);
    assert.equal(cli.code, 1);
    assert.match(
      cli.out,
      new RegExp(
        `^agentcom failed to start: data directory .* is in use by process ${process.pid} \\(agentcom hub\\); stop it first\\n$`,
      ),
    );
    await hub.stop({ keepData: true });
    const again = await startTestHub({}, hub.dataDir);
    await again.stop({ keepData: true });
  });

  test('the same directory through a bind mount is the same lock', async (t) => {
    const dir = tempDir();
    const alias = tempDir();
    dirs.push(dir, alias);
    // needs root: skipped where bind mounts cannot be made
    if (spawnSync('mount', ['--bind', dir, alias]).status !== 0) return t.skip('mount --bind needs root');
    try {
      const held = await lockDataDir(dir, 'hub');
      await assert.rejects(lockDataDir(alias, 'restore'), DataDirHeldError);
      await held.release();
    } finally {
      spawnSync('umount', [alias]);
    }
  });

  test('`npm run restore` into the data directory of a running hub refuses and changes nothing', async () => {
    const { dataDir, backupPath } = await dataWithMessages(3, true);
    const hub = await startTestHub({}, dataDir);
    const file = join(dataDir, 'messaging', 'messaging.mdb');
    const before = readFileSync(file);
    await assert.rejects(restore(backupPath as string, dataDir), DataDirHeldError);
    const cli = await run(['ops/restore.ts', '--from', backupPath as string, '--data', dataDir]);
    assert.equal(cli.code, 1);
    assert.match(
      cli.out,
      /^restore failed: data directory .* is in use by process \d+ \(agentcom hub\); stop it first\n$/,
    );
    assert.ok(readFileSync(file).equals(before), 'the live file is untouched');
    await hub.stop({ keepData: true });
  });

  test('a hub killed with kill -9 never blocks the next start', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await spawnChildHub(dataDir);
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = await spawnChildHub(dataDir);
    assert.ok(second.pid > 0, 'started over the dead hub’s directory');
    second.proc.kill('SIGTERM');
    await second.exited;
  });
});

describe('damaged storage is refused at start (§9.33)', () => {
  /** Damages a copy of the messaging file in place with `harm`, then expects the start to be refused. */
  async function refusedAfter(harm: (file: string) => void, mode: 'counts' | 'full' = 'counts') {
    const { dataDir, backupPath } = await dataWithMessages(400, true);
    const file = join(dataDir, 'messaging', 'messaging.mdb');
    harm(file);
    const start = startHub(configFor(dataDir, { verifyOnStart: mode }));
    start.then(
      (h) => h.close(),
      () => {},
    );
    await assert.rejects(start, (err: Error) => {
      assert.ok(err instanceof OperatorError, String(err));
      assert.match(
        err.message,
        /^messaging: \S+messaging\.mdb is damaged \(.+\)\. Restore it: npm run restore -- --from \S+ --data \S+\.$/,
      );
      assert.ok(err.message.includes(`--from ${backupPath} --data ${dataDir}`));
      return true;
    });
    return dataDir;
  }

  const overwrite = (file: string, at: number, bytes: Buffer) => {
    const fd = openSync(file, 'r+');
    writeSync(fd, bytes, 0, bytes.length, at);
    closeSync(fd);
  };

  test('a file whose header is overwritten (the reader dies with SIGSEGV) stops the start with the restore command', async () => {
    const dataDir = await refusedAfter((f) => overwrite(f, 0, Buffer.alloc(8192, 0x41)));
    const cli = await run(['main/index.ts', '--port', '0', '--admin-port', '0', '--data', dataDir]);
    assert.equal(cli.code, 1, 'the command exits 1');
    assert.match(
      cli.out,
      /^agentcom failed to start: messaging: .*messaging\.mdb is damaged .*npm run restore -- --from .*\n$/,
    );
    assert.doesNotMatch(cli.out, /\n\s+at /, 'no stack trace');
  });

  test('a truncated file (SIGBUS) stops the start', async () => {
    await refusedAfter((f) => {
      const fd = openSync(f, 'r+');
      ftruncateSync(fd, Math.floor(statSync(f).size / 3));
      closeSync(fd);
    });
  });

  test('overwritten data pages stop the start instead of serving wrong answers', async () => {
    await refusedAfter((f) => overwrite(f, 4096 * 4, Buffer.alloc(4096 * 8, 0x41)));
  });

  test('--verify-on-start full decodes every record: a value that does not decode is refused; counts mode does not read values', async () => {
    const { dataDir } = await dataWithMessages(20, true);
    const file = join(dataDir, 'messaging', 'messaging.mdb');
    // the payload string's msgpack header becomes a str32 longer than the record: it cannot decode
    // (every copy of it: LMDB's free pages still hold older versions of a page)
    const bytes = readFileSync(file);
    const pad = Buffer.from('p'.repeat(200));
    let damaged = 0;
    for (let at = bytes.indexOf(pad); at > 0; at = bytes.indexOf(pad, at + 1), damaged++)
      overwrite(file, at - 2, Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]));
    assert.ok(damaged > 0);
    const counts = await startHub(configFor(dataDir, { verifyOnStart: 'counts' }));
    await counts.close();
    const full = startHub(configFor(dataDir, { verifyOnStart: 'full' }));
    full.then(
      (h) => h.close(),
      () => {},
    );
    await assert.rejects(full, /messaging\.mdb is damaged \(.*\)/);
  });

  test('a file rolled back to an older copy is a warning with the counts, not "changed: {}"', async () => {
    const { dataDir } = await dataWithMessages(5);
    const file = join(dataDir, 'messaging', 'messaging.mdb');
    copyFileSync(file, `${file}.old`);
    const hub = await startTestHub({}, dataDir);
    const a = await tokenFor(hub, 'a');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    for (let i = 0; i < 5; i++) await c.request({ type: 'message', to: 'offline', payload: { i } }, 'message_sent');
    c.close();
    await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
    await hub.stop({ keepData: true });
    copyFileSync(`${file}.old`, file);
    rmSync(`${file}-lock`, { force: true });
    const again = await startLoggedHub({}, 'info', dataDir);
    const warn = again.lines.find((l) => l.domain === 'messaging' && String(l.msg).startsWith('domain file is older'));
    assert.ok(warn, 'warned');
    assert.equal(warn.level, 40);
    assert.equal((warn.backup_counts as Record<string, number>).mailbox, 10);
    assert.equal((warn.counts as Record<string, number>).mailbox, 5);
    assert.equal((warn.changed as Record<string, number>).mailbox, -5);
    await again.stop({ keepData: true });
  });

  test('a file compacted since the newest backup counts its transactions from 1 again: no rollback warning', async () => {
    const { dataDir } = await dataWithMessages(5);
    const hub = await startTestHub({}, dataDir);
    await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
    const r = await api(hub.adminUrl, 'POST', '/admin/compact/messaging', { token: ADMIN_TOKEN });
    assert.equal(r.body.status, 'compacted');
    await hub.stop({ keepData: true });
    const again = await startLoggedHub({}, 'info', dataDir);
    const lines = again.lines.filter((l) => l.domain === 'messaging');
    assert.equal(
      lines.find((l) => String(l.msg).startsWith('domain file is older')),
      undefined,
      'no false alarm',
    );
    assert.ok(lines.find((l) => l.msg === 'domain compacted since the newest backup'));
    await again.stop({ keepData: true });
  });
});

describe('the marks beside the environments', () => {
  test('a restore drops the compaction marks of the domains it replaced; a damaged mark reads as none', () => {
    const dataDir = tempDir('agentcom-marks-');
    dirs.push(dataDir);
    const mark = { at: 1, dev: 2, ino: 3, txnid: 4 };
    writeCompactionMark(dataDir, 'messaging', mark);
    writeCompactionMark(dataDir, 'tasks', mark);
    writeRestoreMark(dataDir, '/x/backups/2026', [{ domain: 'messaging', txnid: 9 }], 5);
    assert.deepEqual(readCompactionMarks(dataDir), { tasks: mark });
    assert.deepEqual(readRestoreMark(dataDir), { backup: '2026', at: 5, txnids: { messaging: 9 } });
    writeFileSync(compactionMarkFile(dataDir), 'null');
    writeFileSync(restoreMarkFile(dataDir), '{"backup": 1}');
    assert.deepEqual(readCompactionMarks(dataDir), {});
    assert.equal(readRestoreMark(dataDir), null);
  });
});
