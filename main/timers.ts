import { compactFragmented } from './compaction.js';
import type { Hub } from './context.js';
import { noteMailboxDrops } from './messaging.js';

/**
 * The hub's periodic work: the idle reaper (any frame is a sign of life),
 * WebSocket-level pings for dead TCP peers, the slow-consumer close (§9.20),
 * the rate-table sweep, the mailbox TTL sweep, scheduled backups and
 * compactions. Returns a stop function.
 */
export function startTimers(hub: Hub): () => void {
  const { config, conns, log } = hub;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => void) => timers.push(setInterval(fn, ms).unref());

  every(config.reaperIntervalMs, () => {
    const now = Date.now();
    for (const c of conns.all.values()) {
      if (now - c.lastSeen <= config.idleTimeoutMs) continue;
      log.info({ agent_id: c.agentId, conn: c.id, idle_ms: now - c.lastSeen }, 'reaping idle connection');
      c.close(1001, 'idle timeout');
    }
  });

  every(config.wsPingIntervalMs, () => {
    for (const c of conns.all.values()) {
      if (c.pongPending) {
        log.info({ agent_id: c.agentId, conn: c.id }, 'no pong: terminating dead connection');
        c.ws.terminate();
        continue;
      }
      c.pongPending = true;
      c.ws.ping();
    }
  });

  every(Math.max(10, Math.min(1000, Math.floor(config.slowConsumerMs / 3))), () => {
    const now = Date.now();
    for (const c of conns.congested) {
      if (c.ws.bufferedAmount <= config.sendBufferMax) {
        c.overSince = 0;
        conns.congested.delete(c);
      } else if (c.overSince && now - c.overSince >= config.slowConsumerMs) {
        log.warn(
          { agent_id: c.agentId, conn: c.id, buffered: c.ws.bufferedAmount, dropped: c.dropped },
          'slow consumer closed',
        );
        conns.congested.delete(c);
        // what was written but may still sit in the buffer goes to the mailbox before the socket is cut
        const seqs = c.takeUnflushed();
        if (c.agentId && seqs.length) {
          hub.messaging.call('mailboxCopy', { agents: [c.agentId], seqs }).then(
            (r) => noteMailboxDrops(hub, r.dropped),
            (err) => log.error({ err, agent_id: c.agentId }, 'slow consumer mailbox copy failed'),
          );
        }
        c.close(4008, 'slow_consumer');
        c.ws.terminate();
      }
    }
  });

  every(60_000, () => {
    const now = Date.now();
    hub.limiter.sweep(now);
    hub.violations.sweep(now);
  });

  every(config.mailboxSweepMs, () => hub.sweepMailboxes());

  every(config.alertCheckMs, () => {
    hub.alerts.check(hub).catch((err) => log.error({ err }, 'alert check failed'));
  });

  if (config.backupIntervalMs > 0) {
    every(config.backupIntervalMs, () => {
      hub.backup().catch((err) => log.error({ err }, 'scheduled backup failed'));
    });
  }

  if (config.compactIntervalMs > 0) {
    let compacting = false;
    every(config.compactIntervalMs, () => {
      if (compacting) return;
      compacting = true;
      compactFragmented(
        hub.domains(),
        hub.dataDir,
        hub.maintenance,
        { minFragmentation: config.compactMinFragmentation, minBytes: config.compactMinBytes },
        log,
      )
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
