import * as v from 'valibot';
import {
  agentId,
  capabilities,
  channelName,
  idempotencyKey,
  int,
  jsonObject,
  type Limits,
  nonEmpty,
  nonNegInt,
  opt,
  str,
} from './common.js';

const num = () => opt(v.number());

/** Client → hub frames (PROTOCOL.md §2.1 plus §9.9 sidecar frames and §9.21 mailbox_ack). */
export function makeWsSchemas(l: Limits) {
  const taskId = nonEmpty(128);
  const text = opt(str(2000));
  return {
    identify: v.object({
      agent_id: agentId(l),
      token: nonEmpty(256),
      name: opt(str(l.maxName)),
      status: opt(str(l.maxStatus)),
      capabilities: opt(capabilities(l)),
      ollama_url: opt(str(512)),
      presence_events: opt(v.boolean()),
      mailbox_since: opt(nonNegInt()),
      delivery: opt(v.picklist(['live', 'acked'])),
      protocol_version: opt(v.union([v.number(), v.string()])),
      client_type: opt(str(64)),
    }),
    message: v.object({
      payload: jsonObject(l.maxPayloadBytes),
      to: opt(str(l.maxAgentId)),
      message_type: opt(str(64)),
      reply_to: opt(str(128)),
      idempotency_key: idempotencyKey(),
    }),
    status: v.object({ status: str(l.maxStatus) }),
    list_agents: v.object({}),
    list_channels: v.object({}),
    ping: v.object({}),
    mailbox_ack: v.object({ seq: nonNegInt() }),
    channel_subscribe: v.object({ channel: channelName(l) }),
    channel_unsubscribe: v.object({ channel: channelName(l) }),
    channel_publish: v.object({
      channel: channelName(l),
      payload: jsonObject(l.maxPayloadBytes),
      message_type: opt(str(64)),
      reply_to: opt(str(128)),
      idempotency_key: idempotencyKey(),
    }),
    channel_history: v.object({ channel: channelName(l), limit: opt(nonNegInt()), since: opt(nonNegInt()) }),
    task_accepted: v.object({ task_id: taskId }),
    task_progress: v.object({ task_id: taskId, progress: opt(int()), execution_event: opt(jsonObject()) }),
    task_complete: v.object({
      task_id: taskId,
      generation: int(),
      result: opt(jsonObject()),
      tokens_used: opt(int()),
      verification_report: opt(jsonObject()),
      verification_history: opt(v.array(jsonObject())),
    }),
    task_failed: v.object({ task_id: taskId, generation: int(), error: text, reason: text }),
    task_recovering: v.object({ task_id: taskId }),
    task_rejected: v.object({ task_id: taskId, reason: text }),
    state_report: v.object({ task_id: taskId, status: opt(str(256)), generation: opt(int()), assigned_at: num() }),
    wake_result: v.object({ task_id: taskId, status: str(256), attempt: opt(int()), error: text, reason: text }),
    resource_report: v.object({
      cpu_percent: num(),
      ram_used_bytes: num(),
      ram_total_bytes: num(),
      vram_used_bytes: num(),
      vram_total_bytes: num(),
      timestamp: num(),
    }),
    ollama_report: v.object({ ollama_url: str(512) }),
    agent_restarting: v.object({ reason: text }),
  };
}

export type WsSchemas = ReturnType<typeof makeWsSchemas>;
export type WsType = keyof WsSchemas;
export type WsFrame<T extends WsType> = v.InferOutput<WsSchemas[T]>;

/** What each client frame is for (§2.1), for GET /api/schemas. */
export const WS_DESCRIPTIONS: Record<WsType, string> = {
  identify: 'authenticate the socket as an agent',
  message: 'send a direct (to) or broadcast message',
  status: 'set this agent’s status',
  list_agents: 'list identified agents',
  list_channels: 'list channels',
  ping: 'keep-alive; answered with pong',
  mailbox_ack: 'delete mailbox entries up to seq',
  channel_subscribe: 'follow a channel',
  channel_unsubscribe: 'stop following a channel',
  channel_publish: 'publish to a channel',
  channel_history: 'read a channel’s recent messages',
  task_accepted: 'accept an assigned task',
  task_progress: 'report progress on a task',
  task_complete: 'finish a task with its result',
  task_failed: 'report a failed task',
  task_recovering: 'ask whether to continue a task after a crash',
  task_rejected: 'hand an assigned task back (busy)',
  state_report: 'report the task held after a reconnect',
  wake_result: 'report the outcome of a wake command',
  resource_report: 'report machine resources',
  ollama_report: 'register a local model endpoint',
  agent_restarting: 'announce a restart',
};
