import * as v from 'valibot';

/**
 * Stored and outgoing record shapes. They are built by the hub, never parsed
 * from clients, so the schemas exist to give one definition of each shape.
 */
export const MsgSchema = v.object({
  id: v.string(),
  from: v.string(),
  to: v.nullable(v.string()),
  type: v.string(),
  payload: v.record(v.string(), v.unknown()),
  reply_to: v.nullable(v.string()),
  timestamp: v.number(),
  channel: v.optional(v.string()),
});
export type Msg = v.InferOutput<typeof MsgSchema>;

/** A message on its way to be stored: the store mints its id from the seq it takes. */
export const NewMsgSchema = v.omit(MsgSchema, ['id']);
export type NewMsg = v.InferOutput<typeof NewMsgSchema>;

export const StoredMsgSchema = v.object({ ...MsgSchema.entries, seq: v.number() });
export type StoredMsg = v.InferOutput<typeof StoredMsgSchema>;

export const HistEntrySchema = v.object({ seq: v.number(), message: MsgSchema, stored_at: v.number() });
export type HistEntry = v.InferOutput<typeof HistEntrySchema>;

export const AgentSchema = v.object({
  agent_id: v.string(),
  name: v.string(),
  status: v.string(),
  capabilities: v.array(v.string()),
  connected_at: v.number(),
});
export type Agent = v.InferOutput<typeof AgentSchema>;

/** A channel as stored, and as GET /api/channels/:ch returns it with its subscribers. */
export const ChannelRecSchema = v.object({
  name: v.string(),
  description: v.string(),
  created_at: v.number(),
  created_by: v.string(),
});
export type ChannelRec = v.InferOutput<typeof ChannelRecSchema>;
