import { ErrorCode, HubError } from '../shared/errors.js';
import { publish, subscribe, unsubscribe } from './channels.js';
import type { Handlers } from './ws-handlers.js';

/** Channel frames (§2.1 with §9.5, §9.22). */
export const channelHandlers: Handlers = {
  async list_channels(hub, conn) {
    // the original's frame has no paging: a socket gets the first page (1,000 channels)
    conn.sendJson({ type: 'channels', channels: (await hub.channelsDomain.call('list', {})).items });
  },

  async channel_subscribe(hub, conn, f) {
    if (!hub.channels.has(f.channel)) throw new HubError(ErrorCode.channelNotFound, { channel: f.channel });
    const added = await subscribe(hub, conn.agentId as string, f.channel);
    conn.sendJson({ type: 'channel_subscribed', channel: f.channel, ...(added ? {} : { note: 'already_subscribed' }) });
  },

  async channel_unsubscribe(hub, conn, f) {
    if (!hub.channels.has(f.channel)) throw new HubError(ErrorCode.channelNotFound, { channel: f.channel });
    await unsubscribe(hub, conn.agentId as string, f.channel);
    conn.sendJson({ type: 'channel_unsubscribed', channel: f.channel });
  },

  async channel_publish(hub, conn, f) {
    const r = await publish(hub, conn.agentId as string, f.channel, {
      payload: f.payload,
      type: f.message_type,
      reply_to: f.reply_to,
      idempotency_key: f.idempotency_key,
    });
    conn.sendJson({ type: 'channel_published', ...r });
  },

  async channel_history(hub, conn, f) {
    if (!hub.channels.has(f.channel)) throw new HubError(ErrorCode.channelNotFound, { channel: f.channel });
    const messages = await hub.messaging.call('channelHistory', {
      channel: f.channel,
      limit: Math.min(f.limit ?? 50, hub.config.channelHistoryPerChannel),
      since: f.since ?? 0,
    });
    conn.sendJson({ type: 'channel_history', channel: f.channel, messages });
  },
};
