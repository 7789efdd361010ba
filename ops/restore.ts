import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { countEnv, type DomainBackup, sha256File } from '../storage/backup.js';

/**
 * Rebuilds a data directory from a backup made by `POST /admin/backup`, then
 * checks it: each file's sha256 must match the manifest before it is copied,
 * and each restored environment's record counts must match after. Run it with
 * the hub stopped: `npm run restore -- --from data/backups/<ts> --data ./data`.
 */
export async function restore(from: string, dataDir: string): Promise<{ ok: boolean; report: string[] }> {
  const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8')) as {
    domains: DomainBackup[];
    failed: Array<{ domain: string }>;
  };
  const report: string[] = [];
  let ok = manifest.failed.length === 0;
  if (!ok) report.push(`backup is partial: ${manifest.failed.map((f) => f.domain).join(', ')} missing`);
  for (const d of manifest.domains) {
    const source = join(from, d.domain, `${d.domain}.mdb`);
    if (!existsSync(source) || (await sha256File(source)) !== d.sha256) {
      report.push(`${d.domain}: backup file missing or its checksum differs; not restored`);
      ok = false;
      continue;
    }
    const dir = join(dataDir, d.domain);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, `${d.domain}.mdb`);
    copyFileSync(source, `${target}.restoring`);
    rmSync(`${target}-lock`, { force: true });
    renameSync(`${target}.restoring`, target);
    const counts = await countEnv(target, Object.keys(d.counts));
    const diff = Object.keys(d.counts).filter((k) => counts[k] !== d.counts[k]);
    if (diff.length) ok = false;
    report.push(`${d.domain}: ${diff.length ? `count mismatch in ${diff.join(', ')}` : 'restored, counts match'}`);
  }
  return { ok, report };
}

const isMain =
  process.argv[1] &&
  resolve(process.argv[1]).replace(/\.ts$/, '.js') ===
    resolve(new URL(import.meta.url).pathname).replace(/\.ts$/, '.js');
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const from = arg('from');
  const data = arg('data') ?? './data';
  if (!from) {
    process.stderr.write(
      'usage: npm run restore -- --from data/backups/<timestamp> [--data ./data]   (stop the hub first)\n',
    );
    process.exit(2);
  }
  restore(resolve(from), resolve(data)).then(
    ({ ok, report }) => {
      process.stdout.write(`${report.join('\n')}\n${ok ? 'restore complete' : 'restore FAILED'}\n`);
      process.exit(ok ? 0 : 1);
    },
    (err) => {
      process.stderr.write(`restore failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
