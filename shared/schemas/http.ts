import * as v from 'valibot';
import { BucketSchema } from '../config.js';
import { ACTIONS } from '../ratelimit.js';
import { AlertThresholdsSchema } from './alerts.js';
import {
  agentId,
  channelName,
  idempotencyKey,
  jsonObject,
  type Limits,
  nonNegInt,
  opt,
  queryInt,
  str,
} from './common.js';
import { makeTaskSchemas } from './tasks.js';

export function makeHttpSchemas(l: Limits) {
  return {
    onboard: v.object({ agent_id: agentId(l) }),
    sendMessage: v.object({
      payload: jsonObject(l.maxPayloadBytes),
      to: opt(str(l.maxAgentId)),
      type: opt(str(64)),
      reply_to: opt(str(128)),
      idempotency_key: idempotencyKey(),
    }),
    mailboxQuery: v.object({ since: v.optional(queryInt()), limit: v.optional(queryInt()) }),
    mailboxAck: v.object({ seq: nonNegInt() }),
    messagesQuery: v.object({
      from: v.optional(str(l.maxAgentId)),
      to: v.optional(str(l.maxAgentId)),
      channel: v.optional(str(l.maxChannel)),
      start_time: v.optional(queryInt()),
      end_time: v.optional(queryInt()),
      cursor: v.optional(queryInt()),
      limit: v.optional(queryInt()),
    }),
    heartbeat: v.object({ heartbeat_interval_ms: v.pipe(nonNegInt(), v.minValue(1)) }),
    mailboxRetention: v.object({ mailbox_ttl_ms: v.pipe(nonNegInt(), v.minValue(1)) }),
    defaultRepo: v.object({ url: str(512) }),
    alertThresholds: AlertThresholdsSchema,
    createToken: v.object({ agent_id: agentId(l) }),
    restart: v.object({ reason: opt(str(2000)) }),
    restore: v.object({ backup: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(1024)) }),
    logLevel: v.object({ level: str(32) }),
    overrides: v.record(v.picklist(ACTIONS), BucketSchema),
    whitelistPut: v.object({ agent_ids: v.array(agentId(l)) }),
    whitelistPost: v.object({ agent_id: agentId(l) }),
    createChannel: v.object({ name: str(256), description: opt(str(2000)) }),
    channelPath: v.object({ channel: channelName(l) }),
    agentPath: v.object({ agent_id: agentId(l) }),
    channelPublish: v.object({
      payload: jsonObject(l.maxPayloadBytes),
      type: opt(str(64)),
      reply_to: opt(str(128)),
      idempotency_key: idempotencyKey(),
    }),
    channelHistoryQuery: v.object({ limit: v.optional(queryInt()), since: v.optional(queryInt()) }),
    ...makeTaskSchemas(l),
  };
}

export type HttpSchemas = ReturnType<typeof makeHttpSchemas>;
export type HttpBody<K extends keyof HttpSchemas> = v.InferOutput<HttpSchemas[K]>;
