import type * as v from 'valibot';
import type { HttpSchemas } from '../../shared/schemas/http.js';
import type { ChannelSummary, HubFrame, HubFrameType, PresenceAgent } from '../../shared/schemas/hub-frames.js';
import type { HistEntry } from '../../shared/schemas/records.js';
import type { TaskSubmitted, taskView } from '../../shared/schemas/tasks.js';
import type { WsSchemas, WsType } from '../../shared/schemas/ws.js';

/**
 * Every wire type the client uses, inferred from the valibot schemas the hub
 * validates with (shared/schemas). Nothing here restates a field.
 */

/** A frame the client sends: what the hub's schema accepts, plus the `type` it dispatches on. */
export type ClientFrame<K extends WsType = WsType> = K extends WsType
  ? v.InferInput<WsSchemas[K]> & { type: K }
  : never;
export type ClientFrameType = WsType;

export type { ChannelSummary, HistEntry, HubFrame, HubFrameType, PresenceAgent, TaskSubmitted };

/** A JSON object: what `payload`, `metadata` and task results are. */
export type Payload = ClientFrame<'message'>['payload'];

/** POST /api/tasks body. */
export type TaskSubmitInput = v.InferInput<HttpSchemas['taskSubmit']>;
/** A task as GET /api/tasks/:id returns it. */
export type TaskView = ReturnType<typeof taskView>;
/** The `task_assign` frame a worker receives. */
export type AssignedTask = HubFrame<'task_assign'>;
