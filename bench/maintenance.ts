import { AdminClient } from './http.js';
import type { BenchOptions, MaintenanceCall } from './options.js';
import type { PhaseScript } from './target.js';
import { nowUs, sleep } from './util.js';
import type { Window } from './windows.js';

/** The domain the fill grows and the compaction copies. */
export const MAINTAINED = 'messaging';

/** A maintenance call's window label. */
export const callLabel = (c: MaintenanceCall) => (c === 'compact' ? `compact ${MAINTAINED}` : c);

const mb = (bytes: unknown) => Math.round((Number(bytes) / 1048576) * 10) / 10;

type Reply = Record<string, any>;

function backupDetail(b: Reply): Record<string, unknown> {
  const results = (b.results ?? []) as Array<{ table: string; size?: number }>;
  return {
    status: b.status,
    copied_mb: mb(results.reduce((n, r) => n + (r.size ?? 0), 0)),
    [`${MAINTAINED}_mb`]: mb(results.find((r) => r.table === MAINTAINED)?.size ?? 0),
  };
}

function compactDetail(b: Reply): Record<string, unknown> {
  return {
    status: b.status,
    duration_ms: b.duration_ms,
    paused_ms: b.paused_ms,
    mb_before: mb(b.bytes_before),
    mb_after: mb(b.bytes_after),
    ...(b.reason ? { reason: b.reason } : {}),
  };
}

/**
 * The maintenance scenario under steady load: a quiet window (the measured
 * part of --duration), then the --maintenance calls (`POST /admin/backup`,
 * `POST /admin/compact/messaging`), each window as long as its call, with --settle
 * seconds before each and at the end, so the backlog one leaves behind is
 * not charged to the next. The hub's backup reply has no timing of its own:
 * its window is the call's wall time.
 */
export function maintenanceScript(
  o: Pick<BenchOptions, 'durationS' | 'warmupS' | 'settleS' | 'maintenance'>,
): PhaseScript {
  return async (server, ui) => {
    const admin = new AdminClient(server.adminUrl, server.adminToken);
    const quiet = nowUs();
    await sleep((o.durationS - o.warmupS) * 1000);
    const windows: Window[] = [{ label: 'quiet', startUs: quiet, endUs: nowUs() }];
    const during = async (label: string, path: string, detail: (b: Reply) => Record<string, unknown>) => {
      await sleep(o.settleS * 1000);
      ui.status(`${label} under load: POST ${path}`);
      const startUs = nowUs();
      const r = await admin.maintain(path);
      windows.push({ label, startUs, endUs: nowUs(), detail: { call_ms: r.ms, ...detail(r.body) } });
    };
    for (const call of o.maintenance) {
      if (call === 'backup') await during(callLabel(call), '/admin/backup', backupDetail);
      else await during(callLabel(call), `/admin/compact/${MAINTAINED}`, compactDetail);
    }
    await sleep(o.settleS * 1000);
    return windows;
  };
}
