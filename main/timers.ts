import type { Config } from '../shared/config.js';
import type { Fanout } from './fanout.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './log.js';

export interface TimerDeps {
  config: Pick<
    Config,
    | 'reaperIntervalMs'
    | 'idleTimeoutMs'
    | 'wsPingIntervalMs'
    | 'slowConsumerMs'
    | 'mailboxSweepMs'
    | 'alertCheckMs'
    | 'backupIntervalMs'
    | 'compactIntervalMs'
  >;
  fleet: Fleet;
  fanout: Fanout;
  log: Logger;
  /** the rate table and the violation records drop what is idle */
  sweepLimits: (now: number) => void;
  sweepMailboxes: () => void;
  checkAlerts: () => Promise<void>;
  backup: () => Promise<unknown>;
  compactFragmented: () => Promise<void>;
}

/**
 * The hub's periodic work: the idle reaper (any frame is a sign of life),
 * WebSocket-level pings for dead TCP peers, the slow-consumer close (§9.20),
 * the rate-table sweep, the mailbox TTL sweep, alert checks, scheduled
 * backups and compactions. Returns a stop function.
 */
export function startTimers(d: TimerDeps): () => void {
  const { config, fleet, log } = d;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => void) => timers.push(setInterval(fn, ms).unref());

  every(config.reaperIntervalMs, () => {
    const now = Date.now();
    for (const c of fleet.sockets()) {
      if (now - c.lastSeen <= config.idleTimeoutMs) continue;
      log.info({ agent_id: c.agentId, conn: c.id, idle_ms: now - c.lastSeen }, 'reaping idle connection');
      c.close(1001, 'idle timeout');
    }
  });

  every(config.wsPingIntervalMs, () => {
    for (const c of fleet.sockets()) {
      if (c.pongPending) {
        log.info({ agent_id: c.agentId, conn: c.id }, 'no pong: terminating dead connection');
        c.ws.terminate();
        continue;
      }
      c.pongPending = true;
      c.ws.ping();
    }
  });

  every(Math.max(10, Math.min(1000, Math.floor(config.slowConsumerMs / 3))), () =>
    d.fanout.cutSlowConsumers(Date.now()),
  );
  every(60_000, () => d.sweepLimits(Date.now()));
  every(config.mailboxSweepMs, () => d.sweepMailboxes());
  every(config.alertCheckMs, () => {
    d.checkAlerts().catch((err) => log.error({ err }, 'alert check failed'));
  });
  if (config.backupIntervalMs > 0) {
    every(config.backupIntervalMs, () => {
      d.backup().catch((err) => log.error({ err }, 'scheduled backup failed'));
    });
  }
  if (config.compactIntervalMs > 0) {
    let compacting = false;
    every(config.compactIntervalMs, () => {
      if (compacting) return;
      compacting = true;
      d.compactFragmented()
        .catch((err) => log.error({ err }, 'scheduled compaction failed'))
        .finally(() => {
          compacting = false;
        });
    });
  }

  return () => {
    for (const t of timers) clearInterval(t);
  };
}
