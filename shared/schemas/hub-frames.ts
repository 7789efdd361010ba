import * as v from 'valibot';
import { AgentSchema, ChannelRecSchema, HistEntrySchema } from './records.js';
import { TaskSchema } from './tasks.js';

/**
 * Hub → client frames (PROTOCOL.md §2.2 with the §9 departures). The hub
 * builds them, never parses them: these schemas are the one definition that
 * both the hub's senders and the client SDK's types come from, and the source
 * of the JSON Schema at GET /api/schemas.
 */

const obj = v.record(v.string(), v.unknown());
const frame = <T extends string, E extends v.ObjectEntries>(type: T, description: string, entries: E) =>
  v.pipe(v.object({ type: v.literal(type), ...entries }), v.description(description));

/** An agent as presence frames and `agents` show it: the §2.2 Agent plus what this hub adds. */
export const PresenceAgentSchema = v.object({
  ...AgentSchema.entries,
  last_seen: v.number(),
  protocol_version: v.nullable(v.union([v.number(), v.string()])),
  resources: v.optional(v.record(v.string(), v.number())),
});
export type PresenceAgent = v.InferOutput<typeof PresenceAgentSchema>;

/** A channel as `channels` and GET /api/channels list it; a channel created without a description has "". */
export const ChannelSummarySchema = v.object({
  ...v.omit(ChannelRecSchema, ['created_by']).entries,
  subscriber_count: v.number(),
});
export type ChannelSummary = v.InferOutput<typeof ChannelSummarySchema>;

/** The fields a delivered direct, broadcast or mailbox message carries. */
const delivered = {
  id: v.string(),
  from: v.string(),
  message_type: v.string(),
  payload: obj,
  reply_to: v.nullable(v.string()),
  timestamp: v.number(),
};

export const TaskAckStatus = ['accepted', 'complete', 'retried', 'dead_letter'] as const;

const fieldError = v.object({
  field: v.string(),
  error: v.picklist(['required', 'wrong_type', 'too_long', 'unknown_message_type']),
  detail: v.string(),
  value: v.optional(v.unknown()),
  known_types: v.optional(v.array(v.string())),
});

export const hubFrameSchemas = {
  identified: frame('identified', 'identify succeeded', {
    agent_id: v.string(),
    delivery: v.picklist(['live', 'acked']),
    /** the oldest mailbox seq still held for the agent, null when its mailbox is empty (§9.31) */
    oldest_seq: v.nullable(v.number()),
  }),
  message: frame('message', 'a direct or broadcast message for this agent (live, or replayed from its mailbox)', {
    ...delivered,
    /** set on mailbox copies of channel posts */
    channel: v.optional(v.string()),
    /** the mailbox seq: set on every frame that comes from (or is kept in) the mailbox */
    seq: v.optional(v.number()),
  }),
  message_sent: frame('message_sent', 'a message frame was stored and flushed', {
    id: v.string(),
    /** its seq in global history (and in each recipient's mailbox) */
    seq: v.number(),
  }),
  status_updated: frame('status_updated', 'this agent’s status was set', { status: v.string() }),
  agents: frame('agents', 'reply to list_agents', { agents: v.array(PresenceAgentSchema) }),
  pong: frame('pong', 'reply to ping', { timestamp: v.number() }),
  mailbox_acked: frame('mailbox_acked', 'mailbox entries up to up_to were deleted', { up_to: v.number() }),
  ollama_report_ack: frame('ollama_report_ack', 'reply to ollama_report', { status: v.literal('registered') }),
  agent_joined: frame('agent_joined', 'another agent identified (presence)', { agent: PresenceAgentSchema }),
  agent_left: frame('agent_left', 'an agent’s socket ended (presence)', { agent_id: v.string() }),
  status_changed: frame('status_changed', 'an agent changed its status (presence)', { agent: PresenceAgentSchema }),
  channels: frame('channels', 'reply to list_channels', { channels: v.array(ChannelSummarySchema) }),
  channel_subscribed: frame('channel_subscribed', 'this agent follows the channel', {
    channel: v.string(),
    note: v.optional(v.literal('already_subscribed')),
  }),
  channel_unsubscribed: frame('channel_unsubscribed', 'this agent stopped following the channel', {
    channel: v.string(),
  }),
  channel_published: frame('channel_published', 'a channel post was stored and flushed', {
    channel: v.string(),
    seq: v.number(),
    id: v.string(),
  }),
  channel_history: frame('channel_history', 'reply to channel_history', {
    channel: v.string(),
    messages: v.array(HistEntrySchema),
  }),
  /** `seq` is the channel's own seq (channel history), not a mailbox seq */
  channel_message: frame('channel_message', 'a post on a channel this agent follows', {
    channel: v.string(),
    ...delivered,
    seq: v.number(),
  }),
  channel_agent_joined: frame('channel_agent_joined', 'another agent subscribed to a channel this agent follows', {
    channel: v.string(),
    agent_id: v.string(),
  }),
  task_assign: frame('task_assign', 'a task given to this agent (§2.4)', {
    task_id: v.string(),
    ...v.pick(TaskSchema, ['description', 'metadata', 'generation']).entries,
    assigned_at: v.number(),
    ...v.pick(TaskSchema, [
      'repo',
      'branch',
      'file_hints',
      'success_criteria',
      'verification_steps',
      'complexity',
      'routing_decision',
      'skip_verification',
      'verification_timeout_ms',
      'max_verification_retries',
    ]).entries,
  }),
  task_ack: frame('task_ack', 'reply to task_accepted, task_complete and task_failed', {
    task_id: v.string(),
    status: v.picklist(TaskAckStatus),
  }),
  task_continue: frame('task_continue', 'reply to task_recovering: keep working on the task', {
    task_id: v.string(),
    generation: v.number(),
  }),
  task_reassign: frame('task_reassign', 'reply to task_recovering: the task is no longer this agent’s', {
    task_id: v.string(),
  }),
  state_report_ack: frame('state_report_ack', 'reply to state_report: continue or abort the task', {
    task_id: v.string(),
    action: v.picklist(['continue', 'abort']),
  }),
  task_cancelled: frame('task_cancelled', 'this agent’s task was cancelled or expired', {
    task_id: v.string(),
    timestamp: v.number(),
  }),
  restart_sidecar: frame('restart_sidecar', 'the admin asks the agent to restart', { reason: v.string() }),
  rate_limit_warning: frame('rate_limit_warning', 'less than 20 % of a rate-limit bucket is left; precedes the reply', {
    action: v.string(),
    remaining: v.number(),
    capacity: v.number(),
  }),
  /**
   * `error` is a stable code (shared/errors.ts), or `task_complete_failed: <code>` /
   * `task_fail_failed: <code>` for task results. Other fields depend on the code.
   */
  error: v.pipe(
    v.looseObject({
      type: v.literal('error'),
      error: v.string(),
      message_type: v.optional(v.string()),
      errors: v.optional(v.array(fieldError)),
      retry_after_ms: v.optional(v.number()),
      action: v.optional(v.string()),
      task_id: v.optional(v.string()),
      channel: v.optional(v.string()),
    }),
    v.description('a request was refused, or failed'),
  ),
};

export type HubFrameSchemas = typeof hubFrameSchemas;
export type HubFrameType = keyof HubFrameSchemas;
export type HubFrame<K extends HubFrameType = HubFrameType> = v.InferOutput<HubFrameSchemas[K]>;
