import type { ChannelsApi } from '../../shared/domains/channels.js';
import type { Domain } from '../../shared/domains/domain.js';
import type { Channels } from '../channels.js';
import type { Handlers } from './handlers.js';

export interface ChannelFrameDeps {
  channels: Channels;
  channelsDomain: Domain<ChannelsApi>;
}

/** Channel frames (§2.1 with §9.5, §9.22). */
export function channelHandlers(d: ChannelFrameDeps): Handlers {
  const { channels } = d;
  return {
    async list_channels(conn) {
      // the original's frame has no paging: a socket gets the first page (1,000 channels)
      conn.sendJson({ type: 'channels', channels: (await d.channelsDomain.call('list', {})).items });
    },

    async channel_subscribe(conn, f) {
      const added = await channels.subscribe(conn.agentId as string, f.channel);
      conn.sendJson({
        type: 'channel_subscribed',
        channel: f.channel,
        ...(added ? {} : { note: 'already_subscribed' }),
      });
    },

    async channel_unsubscribe(conn, f) {
      await channels.unsubscribe(conn.agentId as string, f.channel);
      conn.sendJson({ type: 'channel_unsubscribed', channel: f.channel });
    },

    async channel_publish(conn, f) {
      const r = await channels.publish(conn.agentId as string, f.channel, {
        payload: f.payload,
        type: f.message_type,
        reply_to: f.reply_to,
        idempotency_key: f.idempotency_key,
      });
      conn.sendJson({ type: 'channel_published', ...r });
    },

    async channel_history(conn, f) {
      const messages = await channels.history(f.channel, f.limit, f.since);
      conn.sendJson({ type: 'channel_history', channel: f.channel, messages });
    },
  };
}
