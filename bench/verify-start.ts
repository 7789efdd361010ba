import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { envFile } from '../shared/data-layout.js';
import { verifyEnvs } from '../shared/verify.js';
import { openDomainEnv } from '../storage/env.js';
import { MESSAGING_DBS } from '../storage/messaging.js';

/**
 * What `--verify-on-start` costs: builds a messaging environment of N
 * message records (1 KiB payloads, as the direct scenario sends), then times
 * the start-up check in `counts` and `full` mode. `npm run bench:verify -- 1000000`.
 */
async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'agentcom-verify-'));
  try {
    const env = openDomainEnv(dir, 'messaging', MESSAGING_DBS);
    const payload = { text: 'x'.repeat(1000) };
    const t0 = performance.now();
    for (let start = 1; start <= n; start += 50_000) {
      await env.root.transaction(() => {
        for (let seq = start; seq < Math.min(start + 50_000, n + 1); seq++) {
          env.dbs.history.put(seq, { id: seq.toString(16), from: 'a', to: 'b', type: 'chat', payload, seq });
        }
      });
    }
    await env.close();
    const file = envFile(dir, 'messaging');
    process.stdout.write(
      `built ${n.toLocaleString()} records (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    for (const mode of ['counts', 'full'] as const) {
      const t = performance.now();
      const [r] = await verifyEnvs({ mode, envs: [{ domain: 'messaging', file }] });
      const s = (performance.now() - t) / 1000;
      process.stdout.write(
        `${mode.padEnd(6)} ${r.ok ? 'ok' : r.reason}: ${s.toFixed(2)} s (child ${(r.ms / 1000).toFixed(2)} s) = ${((s / n) * 1e6).toFixed(2)} s per million records\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
