import { setTimeout as sleep } from 'node:timers/promises';
import type { Alert, AlertEvent } from './alerts.js';
import type { Logger } from './log.js';

export interface WebhookOptions {
  url: string;
  /** per attempt; the 2nd attempt waits one timeout, the 3rd five */
  timeoutMs: number;
  log: Logger;
}

/** Worth another attempt: the receiver was unreachable, slow, overloaded or failing; a 4xx will not change. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * POSTs each alert that fires or resolves to the operator's URL as JSON:
 * `{event: "fired"|"resolved", alert, hub: "agentcom", timestamp}`. One
 * delivery at a time, in order; each attempt times out, a failed one is
 * retried twice (after one timeout, then five), and a delivery that fails
 * for good is logged at error level (the alert
 * stays in `GET /api/alerts` and the Prometheus gauges either way).
 */
export function alertWebhook(o: WebhookOptions): (event: AlertEvent, alert: Alert, now: number) => void {
  const delays = [o.timeoutMs, 5 * o.timeoutMs];
  let chain: Promise<void> = Promise.resolve();

  async function deliver(event: AlertEvent, alert: Alert, now: number): Promise<void> {
    const body = JSON.stringify({ event, alert, hub: 'agentcom', timestamp: now });
    let last = '';
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await sleep(delays[attempt - 1], undefined, { ref: false });
      try {
        const res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) {
          o.log.debug({ rule_id: alert.rule_id, event, attempts: attempt + 1 }, 'alert webhook delivered');
          return;
        }
        last = `HTTP ${res.status}`;
        if (!retryable(res.status)) break;
      } catch (err) {
        last =
          (err as Error).name === 'TimeoutError'
            ? `no answer within ${o.timeoutMs} ms`
            : String((err as Error).cause ?? err);
      }
    }
    o.log.error({ rule_id: alert.rule_id, event, url: o.url, error: last }, 'alert webhook failed');
  }

  return (event, alert, now) => {
    const copy = { ...alert, details: { ...alert.details } };
    chain = chain.then(() => deliver(event, copy, now));
  };
}
