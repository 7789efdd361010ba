import { backupSummaries } from '../../shared/backups.js';
import { normaliseChannel } from '../../shared/channel-name.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { Alerts } from '../alerts.js';
import type { BackupRuns } from '../backup-runs.js';
import type { ChannelDirectory } from '../channels.js';
import type { Fleet } from '../fleet.js';
import type { Limiter } from '../limiter.js';
import type { LiveFeed } from '../live-feed.js';
import type { Logger } from '../log.js';
import type { Route } from './router.js';
import { acknowledgeAlert } from './routes-public.js';

export interface LiveRouteDeps {
  feed: LiveFeed;
  snapshot: () => Promise<unknown>;
  fleet: Fleet;
  alerts: Alerts;
  directory: ChannelDirectory;
  limiter: Limiter;
  backups: BackupRuns;
  dataDir: string;
  log: Logger;
}

/** The close code of an admin disconnect: the agent may come back (revoke its token to keep it out). */
const ADMIN_DISCONNECT = 4000;

/**
 * The live dashboard's routes on the admin port, all with the admin token
 * (§9.1): the event stream (SSE: a snapshot, then deltas), and what its
 * panels read and do beyond the other admin routes.
 */
export const liveRoutes = (d: LiveRouteDeps): Route[] => [
  {
    method: 'GET',
    path: '/admin/live',
    auth: 'admin',
    handler: () => ({
      body: null,
      stream: (res) => {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
        });
        res.flushHeaders();
        const viewer = {
          write: (text: string) => {
            if (res.destroyed) return false;
            res.write(text);
            return true;
          },
          buffered: () => res.writableLength,
          close: () => res.end(),
        };
        d.feed.add(viewer, d.snapshot).then((w) => {
          const gone = () => d.feed.remove(w);
          if (res.destroyed) gone();
          else res.once('close', gone);
        });
      },
    }),
  },
  {
    method: 'POST',
    path: '/admin/agents/:agent_id/disconnect',
    auth: 'admin',
    handler: ({ params }) => {
      const c = d.fleet.local(params.agent_id);
      if (!c) throw new HubError(ErrorCode.agentNotConnected, { agent_id: params.agent_id });
      c.close(ADMIN_DISCONNECT, 'disconnected by admin');
      d.log.info({ agent_id: params.agent_id }, 'agent disconnected by admin');
      return { body: { status: 'disconnected', agent_id: params.agent_id } };
    },
  },
  acknowledgeAlert(d.alerts, 'admin'),
  { method: 'GET', path: '/api/alerts', auth: 'admin', handler: () => ({ body: { alerts: d.alerts.list() } }) },
  {
    method: 'GET',
    path: '/admin/channels',
    auth: 'admin',
    handler: () => ({ body: { channels: d.directory.summary(10_000) } }),
  },
  {
    method: 'GET',
    path: '/admin/channels/:channel',
    auth: 'admin',
    handler: ({ params }) => {
      const name = normaliseChannel(params.channel);
      if (!d.directory.has(name)) throw new HubError(ErrorCode.channelNotFound, { channel: name });
      const subscribers = [...d.directory.subscribers(name)].sort();
      const online = subscribers.filter((a) => d.fleet.isOnline(a));
      return { body: { name, subscriber_count: subscribers.length, subscribers, online } };
    },
  },
  {
    method: 'GET',
    path: '/admin/backups',
    auth: 'admin',
    handler: () => ({ body: { backups: backupSummaries(d.dataDir), runs: d.backups.list() } }),
  },
  {
    method: 'GET',
    path: '/admin/rate-limited',
    auth: 'admin',
    handler: () => ({ body: { refusals: d.limiter.refusals() } }),
  },
];
