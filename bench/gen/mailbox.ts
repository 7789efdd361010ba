import { mapLimit, nowUs } from '../util.js';
import type { BenchAgent } from './agent.js';
import { call, errorCode } from './http-client.js';
import type { Recorder } from './recorder.js';

interface Poll {
  messages?: Array<{ seq: number; payload?: { ph?: unknown } }>;
  last_seq?: number;
}

/**
 * The offline agents come back: each polls `GET /api/mailbox/:id?since=N`
 * page by page and acks what it read (`POST …/ack {seq}`), until the mailbox
 * is empty. Entries of this phase are counted against the acked sends.
 */
export async function drainMailboxes(apiUrl: string, agents: BenchAgent[], rec: Recorder): Promise<void> {
  await mapLimit(agents, 8, async (a) => {
    const base = `${apiUrl}/api/mailbox/${encodeURIComponent(a.id)}`;
    let since = 0;
    for (let pages = 0; pages < 10_000; pages++) {
      const t0 = nowUs();
      const res = await call(`${base}?since=${since}`, 'GET', a.spec.token);
      rec.record('poll', t0, nowUs());
      if (res.status !== 200) return rec.error(errorCode(res, 'mailbox_poll_http'));
      const poll = JSON.parse(res.text) as Poll;
      const messages = poll.messages ?? [];
      if (messages.length === 0) return;
      for (const m of messages) {
        if (m.payload?.ph === rec.phaseId) rec.counts.mailboxReceived++;
        else rec.counts.mailboxStale++;
      }
      since = poll.last_seq ?? messages[messages.length - 1].seq;
      const ack = await call(`${base}/ack`, 'POST', a.spec.token, JSON.stringify({ seq: since }));
      if (ack.status !== 200) return rec.error(errorCode(ack, 'mailbox_ack_http'));
    }
  });
}
