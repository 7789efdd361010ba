import type { HubFrame, HubFrameType } from './frames.js';

/**
 * What each hub frame is to the client, one entry per frame type of the
 * shared schemas (a type added there fails the type check until it is
 * placed here):
 * - `reply`: answers the call on the wire (an `error` too); one that matches
 *   no call is a late duplicate
 * - `{ event, inbox: true }`: a delivery, handed to the handlers in arrival
 *   order, one at a time, as that event
 * - `{ event, inbox: false }`: emitted as that event as soon as it arrives
 */
export const HUB_FRAMES = {
  identified: 'reply',
  message: { event: 'message', inbox: true },
  message_sent: 'reply',
  status_updated: 'reply',
  agents: 'reply',
  pong: 'reply',
  mailbox_acked: 'reply',
  ollama_report_ack: 'reply',
  agent_joined: { event: 'agentJoined', inbox: true },
  agent_left: { event: 'agentLeft', inbox: true },
  status_changed: { event: 'statusChanged', inbox: true },
  channels: 'reply',
  channel_subscribed: 'reply',
  channel_unsubscribed: 'reply',
  channel_published: 'reply',
  channel_history: 'reply',
  channel_message: { event: 'channelMessage', inbox: true },
  channel_agent_joined: { event: 'channelAgentJoined', inbox: true },
  task_assign: { event: 'taskAssigned', inbox: false },
  task_ack: 'reply',
  task_continue: 'reply',
  task_reassign: 'reply',
  state_report_ack: 'reply',
  task_cancelled: { event: 'taskCancelled', inbox: false },
  restart_sidecar: { event: 'restartRequested', inbox: false },
  rate_limit_warning: { event: 'rateLimitWarning', inbox: false },
  error: 'reply',
} as const satisfies Record<HubFrameType, 'reply' | { event: string; inbox: boolean }>;

type Kinds = typeof HUB_FRAMES;
type TypesOf<Kind> = { [K in HubFrameType]: Kinds[K] extends Kind ? K : never }[HubFrameType];

export type ReplyType = TypesOf<'reply'>;
/** Frames handed to the application in arrival order, one at a time. */
export type Delivery = HubFrame<TypesOf<{ inbox: true }>>;
/** Frames emitted as soon as they arrive. */
export type Push = HubFrame<TypesOf<{ inbox: false }>>;

/** One event per frame type that reaches the application, carrying the frame as is. */
export type FrameEvents = {
  [K in TypesOf<{ event: string }> as Kinds[K] extends { event: infer E extends string } ? E : never]: HubFrame<K>;
};

/** A type this client does not know (a newer hub's) has no kind. */
function kindOf(type: string): Kinds[HubFrameType] | undefined {
  return Object.hasOwn(HUB_FRAMES, type) ? HUB_FRAMES[type as HubFrameType] : undefined;
}

export function isReply(f: HubFrame): f is HubFrame<ReplyType> {
  return kindOf(f.type) === 'reply';
}

export function isDelivery(f: HubFrame): f is Delivery {
  const k = kindOf(f.type);
  return typeof k === 'object' && k.inbox;
}

export function isPush(f: HubFrame): f is Push {
  const k = kindOf(f.type);
  return typeof k === 'object' && !k.inbox;
}

export const eventOf = (f: Delivery | Push): keyof FrameEvents => HUB_FRAMES[f.type].event;
