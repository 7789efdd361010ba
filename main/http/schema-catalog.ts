import type { GenericSchema } from 'valibot';
import {
  clientFrameJsonSchema,
  hubFrameJsonSchemas,
  JSON_SCHEMA_DIALECT,
  jsonSchemaOf,
} from '../../shared/schemas/json-schema.js';
import { WS_DESCRIPTIONS, type WsType } from '../../shared/schemas/ws.js';
import type { Validator } from '../validation.js';
import type { Route } from './router.js';

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

/**
 * GET /api/schemas (§3.6), derived from the valibot schemas the hub validates
 * with. Beyond §3.6: each websocket entry and each http entry with a body has
 * `json_schema` (draft-07), and `hub_frames` lists the frames the hub sends.
 * Built once: the schemas do not change while the hub runs.
 */
export function schemaRoute(validator: Validator, routes: readonly Route[]): Route {
  const websocket = Object.entries(validator.ws).map(([type, schema]) => ({
    type,
    description: WS_DESCRIPTIONS[type as WsType],
    ...fields(schema as Node),
    json_schema: clientFrameJsonSchema(type as WsType, schema),
  }));
  const http = routes
    .filter((r) => !r.path.includes('.*'))
    .map((r) => ({
      method: r.method,
      path: r.path,
      auth: r.auth,
      ...(r.body
        ? { ...fields(validator.http[r.body] as Node), json_schema: jsonSchemaOf(validator.http[r.body]) }
        : {}),
    }));
  const hub_frames = Object.entries(hubFrameJsonSchemas()).map(([type, json_schema]) => ({
    type,
    description: json_schema.description ?? '',
    json_schema,
  }));
  const body = {
    schemas: { websocket, http, hub_frames, json_schema_dialect: JSON_SCHEMA_DIALECT, version: 1 },
    version: 1,
  };
  return { method: 'GET', path: '/api/schemas', auth: 'none', handler: () => ({ body }) };
}
