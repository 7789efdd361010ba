import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { BatchResult, SwapResult } from '../shared/batch.js';
import { envFile } from '../shared/data-layout.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import { type Db, openDomainEnv } from '../storage/env.js';
import { batchHandler } from '../workers/batch-handler.js';
import { tempDir } from './helpers/hub.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a batch is one transaction; an item is all or nothing', () => {
  test('an op that throws after writing leaves nothing behind; the items around it commit', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const env = openDomainEnv(dir, 'demo', ['kv'] as const);
    let aborted = 0;
    const changes: string[] = [];
    const log = {
      live: false,
      mark: () => changes.length,
      rollback: (to: number) => {
        changes.length = to;
      },
    };
    const ops = {
      // a read-modify-write and a change record: applied once, although the batch ran twice
      put: (db: Db, a: { key: string }) => {
        db.putSync(a.key, ((db.get(a.key) as number | undefined) ?? 0) + 1);
        changes.push(a.key);
      },
      halfway: (db: Db, a: { key: string }) => {
        db.putSync(a.key, 1);
        changes.push(a.key);
        throw new HubError(ErrorCode.invalidState);
      },
    };
    const run = batchHandler(() => ({ root: env.root, path: env.path, store: env.dbs.kv }), ops, {
      names: ['kv'],
      aborted: () => aborted++,
      changes: () => log,
    });
    const res = (await run({
      items: [
        { op: 'put', args: { key: 'before' } },
        { op: 'halfway', args: { key: 'half' } },
        { op: 'put', args: { key: 'after' } },
      ],
      now: Date.now(),
    })) as BatchResult;
    assert.deepEqual(
      res.results.map((r) => r.ok),
      [true, false, true],
    );
    assert.deepEqual(res.results[1], { ok: false, error: { code: 'invalid_state', fields: {} } });
    const bug = (await run({ items: [{ op: 'nope', args: {} }], now: Date.now() })) as BatchResult;
    const err = bug.results[0].ok ? null : bug.results[0].error;
    assert.equal(err?.code, 'internal_error');
    assert.match(err?.cause ?? '', /unknown op nope/, 'what a bug threw goes to main for its log');
    assert.equal(env.dbs.kv.get('before'), 1);
    assert.equal(env.dbs.kv.get('half'), undefined, 'the throwing op’s write was rolled back');
    assert.equal(env.dbs.kv.get('after'), 1);
    assert.deepEqual(changes, ['before', 'after'], 'the change log holds what committed, once');
    assert.ok(aborted >= 1, 'the store was told to re-read what the op may have moved');
    await env.close();
  });

  test('a batch whose transaction fails answers every item storage_unavailable, however far it got', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const env = openDomainEnv(dir, 'demo', ['kv'] as const);
    const ops = { put: (db: Db, a: { key: string }) => db.putSync(a.key, 1) };
    const run = batchHandler(() => ({ root: env.root, path: env.path, store: env.dbs.kv }), ops, { names: ['kv'] });
    const items = ['a', 'b', 'c'].map((key) => ({ op: 'put', args: { key } }));
    // closed under it: the transaction fails before any item ran
    await env.close();
    const res = (await run({ items, now: Date.now() })) as BatchResult;
    assert.ok(res.storageError);
    assert.deepEqual(
      res.results,
      items.map(() => ({ ok: false, error: { code: 'storage_unavailable' } })),
    );
  });
});

describe('a compaction swap keeps the original aside until it is checked', () => {
  test('a copy that lost records is swapped out again: the original comes back whole', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const env = openDomainEnv(dir, 'demo', ['kv'] as const);
    await env.root.transaction(() => {
      for (let i = 0; i < 10; i++) env.dbs.kv.put(`k${i}`, i);
    });
    // a "compacted copy" that holds only half of the records
    const other = openDomainEnv(join(dir, 'other'), 'demo', ['kv'] as const);
    await other.root.transaction(() => {
      for (let i = 0; i < 5; i++) other.dbs.kv.put(`k${i}`, i);
    });
    await other.close();
    let opened = env;
    const run = batchHandler(
      (prev) => {
        if (prev) opened = openDomainEnv(dir, 'demo', ['kv'] as const);
        return { root: opened.root, path: opened.path, store: opened.dbs.kv };
      },
      {},
      { names: ['kv'] },
    );
    const aside = join(dir, 'replaced', 'now');
    const swapped = (await run({ swap: 'compact', copy: envFile(join(dir, 'other'), 'demo'), aside })) as SwapResult;
    assert.deepEqual(swapped.ok && swapped.counts, { kv: 5 });
    assert.ok(existsSync(join(aside, 'demo.mdb')), 'the original waits aside');
    const undone = (await run({ swap: 'undo' })) as SwapResult;
    assert.deepEqual(undone.ok && undone.counts, { kv: 10 });
    assert.equal(opened.dbs.kv.get('k9'), 9);
    await opened.close();
  });
});
