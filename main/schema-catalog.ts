import type { GenericSchema } from 'valibot';
import type { Route } from './http-server.js';
import type { Validator } from './validation.js';

/** What each client frame is for (§2.1), for GET /api/schemas. */
const DESCRIPTIONS: Record<string, string> = {
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

type Node = GenericSchema & { entries?: Record<string, Node>; wrapped?: Node; pipe?: Node[]; item?: Node };

/** A field's type name, looking through optional/nullable wrappers and pipes. */
function typeName(s: Node): string {
  const base = s.wrapped ? typeName(s.wrapped) : s.type;
  if (base === 'custom') return 'object';
  if (base === 'array' && s.item) return `${typeName(s.item)}[]`;
  return base;
}

function fields(schema: Node) {
  const required: Array<{ name: string; type: string }> = [];
  const optional: Array<{ name: string; type: string }> = [];
  for (const [name, s] of Object.entries(schema.entries ?? {})) {
    const optionalField = s.type === 'nullish' || s.type === 'optional' || s.type === 'nullable';
    (optionalField ? optional : required).push({ name, type: typeName(s) });
  }
  return { required_fields: required, optional_fields: optional };
}

/** GET /api/schemas (§3.6), derived from the valibot schemas the hub validates with. */
export function schemaRoute(validator: Validator, routes: readonly Route[]): Route {
  return {
    method: 'GET',
    path: '/api/schemas',
    auth: 'none',
    handler: () => {
      const websocket = Object.entries(validator.ws).map(([type, schema]) => ({
        type,
        description: DESCRIPTIONS[type] ?? '',
        ...fields(schema as Node),
      }));
      const http = routes
        .filter((r) => !r.path.includes('.*'))
        .map((r) => ({
          method: r.method,
          path: r.path,
          auth: r.auth,
          ...(r.body ? fields(validator.http[r.body] as Node) : {}),
        }));
      return { body: { schemas: { websocket, http, version: 1 }, version: 1 } };
    },
  };
}
