import { existsSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { backupsDir, type RestoreMark, replacedDir, restoreMarkFile } from '../shared/data-layout.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import { verifyEnvs } from '../shared/verify.js';
import { readManifestAt } from './backup.js';
import type { Hub } from './context.js';

/** A backup named by its folder under `data/backups/`, or by a path. */
function backupDir(dataDir: string, name: string): string {
  const dir = isAbsolute(name) || name.includes('/') ? resolve(name) : join(backupsDir(dataDir), name);
  if (!existsSync(join(dir, 'manifest.json'))) throw new HubError(ErrorCode.backupNotFound, { backup: name });
  return dir;
}

/** The main thread's caches of what the restored domains hold: tokens, settings, limits, channels, the scheduler. */
async function reload(hub: Hub): Promise<void> {
  // the admin token in use stays: a restore must not lock the admin out with the backup's
  await hub.registry.call('setAdminHash', { hash: hub.tokens.adminTokenHash });
  const snap = await hub.registry.call('snapshot', {});
  hub.tokens.load(snap.tokens, hub.tokens.adminTokenHash);
  hub.settings.load(snap.config);
  hub.limiter.load(snap.overrides, snap.whitelist);
  hub.channels.load(await hub.channelsDomain.call('snapshot', {}));
  // a socket whose token the restored registry does not hold is treated as revoked (§9.25)
  for (const c of hub.conns.all.values())
    if (c.tokenHash && !hub.tokens.has(c.tokenHash)) c.close(4003, 'token_revoked');
  hub.pipeline.resync();
}

/**
 * `POST /admin/restore {backup}`: the whole backup is verified (checksums and
 * record counts, in a child process) and staged beside the live files while
 * the hub serves; then every domain pauses, all files are swapped in (or,
 * when one fails, all are put back), the environments reopen and the queues
 * drain. Agents stay connected; seqs continue above every seq handed out.
 */
export async function restoreOnline(hub: Hub, dataDir: string, name: string) {
  const dir = backupDir(dataDir, name);
  const m = readManifestAt(dir);
  if (!m || m.failed.length) {
    throw new HubError(ErrorCode.backupInvalid, { backup: name, problems: ['the backup is partial or unreadable'] });
  }
  const domains = hub.domains();
  const inBackup = (d: string) => m.domains.find((x) => x.domain === d);
  const missing = domains.filter((d) => !inBackup(d.name)).map((d) => d.name);
  if (missing.length)
    throw new HubError(ErrorCode.backupInvalid, { backup: name, problems: [`no ${missing.join(', ')}`] });
  const file = (d: string) => join(dir, d, `${d}.mdb`);
  const reports = await verifyEnvs({
    mode: 'counts',
    envs: m.domains.map((d) => ({ domain: d.domain, file: file(d.domain), expect: d.counts, sha256: d.sha256 })),
  });
  const problems = reports.filter((r) => !r.ok).map((r) => `${r.domain}: ${r.reason}`);
  if (problems.length) throw new HubError(ErrorCode.backupInvalid, { backup: name, problems });

  const staged = await Promise.allSettled(
    domains.map((d) => {
      const b = inBackup(d.name) as (typeof m.domains)[number];
      return d.restoreStep({ restore: 'stage', source: file(d.name), sha256: b.sha256 });
    }),
  );
  const stageFailed = staged.find((r) => r.status === 'rejected');
  if (stageFailed) {
    await Promise.allSettled(domains.map((d) => d.restoreStep({ restore: 'unstage' })));
    throw new HubError(ErrorCode.restoreFailed, { backup: name, reason: String(stageFailed.reason) });
  }

  const now = Date.now();
  const aside = replacedDir(dataDir, now);
  const started = performance.now();
  await Promise.all(domains.map((d) => d.pause()));
  const swapped: typeof domains = [];
  const results: Array<{ table: string; status: string; record_count: number; counts: Record<string, number> }> = [];
  try {
    for (const d of domains) {
      const counts = (await d.restoreStep({ restore: 'swap', aside })) ?? {};
      swapped.push(d);
      const record_count = Object.values(counts).reduce((a, b) => a + b, 0);
      results.push({ table: d.name, status: 'restored', record_count, counts });
    }
  } catch (err) {
    for (const d of swapped.reverse()) await d.restoreStep({ restore: 'undo' });
    await Promise.allSettled(domains.map((d) => d.restoreStep({ restore: 'unstage' })));
    throw new HubError(ErrorCode.restoreFailed, {
      backup: name,
      reason: err instanceof Error ? err.message : String(err),
    });
  } finally {
    for (const d of domains) d.resume();
  }
  const pausedMs = Math.round(performance.now() - started);
  const mark: RestoreMark = {
    backup: basename(dir),
    at: now,
    txnids: Object.fromEntries(m.domains.map((d) => [d.domain, d.txnid ?? 0])),
  };
  writeFileSync(restoreMarkFile(dataDir), `${JSON.stringify(mark, null, 2)}\n`);
  await reload(hub);
  hub.log.warn({ backup: dir, paused_ms: pausedMs, replaced: aside }, 'data restored online from a backup');
  return {
    status: 'restored',
    backup_used: dir,
    paused_ms: pausedMs,
    replaced_files: aside,
    tables_total: results.length,
    results,
  };
}
