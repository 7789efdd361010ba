import { type ConversionConfig, type JsonSchema, toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import type { Limits } from './common.js';
import { makeHttpSchemas } from './http.js';
import { type HubFrameType, hubFrameSchemas } from './hub-frames.js';
import { makeWsSchemas, WS_DESCRIPTIONS, type WsSchemas, type WsType } from './ws.js';

/**
 * JSON Schema (draft-07) of every frame and body, generated from the valibot
 * schemas the hub validates with: served at GET /api/schemas and shipped in
 * the client package, so clients in other languages can generate types.
 */

export const JSON_SCHEMA_DIALECT = 'http://json-schema.org/draft-07/schema#';

type RecordNode = v.GenericSchema & { key: { options?: string[] }; value: v.GenericSchema };

const config: ConversionConfig = {
  // what a sender may put on the wire: a channel name before normalisation, a query number as text
  typeMode: 'input',
  overrideSchema: ({ valibotSchema: s }) => {
    // jsonObject(): a plain object, checked in code
    if (s.type === 'custom') return { type: 'object', additionalProperties: true };
    // a record keyed by a picklist (rate-limit overrides): one optional property per key
    const r = s as RecordNode;
    if (s.type === 'record' && r.key.options) {
      const value = jsonSchemaOf(r.value);
      return {
        type: 'object',
        properties: Object.fromEntries(r.key.options.map((k) => [k, value])),
        additionalProperties: false,
      };
    }
    return undefined;
  },
  // the payload-size check has no JSON Schema keyword: its message says the limit
  overrideAction: ({ valibotAction, jsonSchema }) => {
    if (valibotAction.type !== 'check') return undefined;
    const { message } = valibotAction as { message?: unknown };
    return typeof message === 'string' ? { ...jsonSchema, description: message } : jsonSchema;
  },
};

/** One schema without its `$schema` line: the dialect is stated once per document. */
export function jsonSchemaOf(schema: v.GenericSchema): JsonSchema {
  const { $schema: _, ...rest } = toJsonSchema(schema, config);
  return rest;
}

/** A client frame: its schema plus the `type` the hub dispatches on (not part of the valibot schema). */
export function clientFrameJsonSchema(type: WsType, schema: v.GenericSchema): JsonSchema {
  const s = jsonSchemaOf(schema);
  return {
    ...s,
    description: WS_DESCRIPTIONS[type],
    properties: { type: { const: type }, ...s.properties },
    required: ['type', ...(s.required ?? [])],
  };
}

export function clientFrameJsonSchemas(ws: WsSchemas): Record<WsType, JsonSchema> {
  const out = {} as Record<WsType, JsonSchema>;
  for (const type of Object.keys(ws) as WsType[]) out[type] = clientFrameJsonSchema(type, ws[type]);
  return out;
}

export function hubFrameJsonSchemas(): Record<HubFrameType, JsonSchema> {
  const out = {} as Record<HubFrameType, JsonSchema>;
  for (const type of Object.keys(hubFrameSchemas) as HubFrameType[]) out[type] = jsonSchemaOf(hubFrameSchemas[type]);
  return out;
}

/**
 * One document with every frame in both directions and every HTTP body under
 * `definitions` (`client.<type>`, `hub.<type>`, `http.<name>`): the file the
 * client package ships.
 */
export function frameSchemaDocument(limits: Limits): JsonSchema {
  const definitions: Record<string, JsonSchema> = {};
  for (const [type, s] of Object.entries(clientFrameJsonSchemas(makeWsSchemas(limits)))) {
    definitions[`client.${type}`] = s;
  }
  for (const [type, s] of Object.entries(hubFrameJsonSchemas())) definitions[`hub.${type}`] = s;
  for (const [name, s] of Object.entries(makeHttpSchemas(limits))) definitions[`http.${name}`] = jsonSchemaOf(s);
  const refs = (prefix: string) =>
    Object.keys(definitions)
      .filter((k) => k.startsWith(prefix))
      .map((k) => ({ $ref: `#/definitions/${k}` }));
  return {
    $schema: JSON_SCHEMA_DIALECT,
    title: 'AgentCom wire frames',
    description:
      'Every WebSocket frame a client may send (client.*), every frame the hub sends (hub.*) and every HTTP request body (http.*), with the hub’s default limits.',
    definitions,
    anyOf: [...refs('client.'), ...refs('hub.')],
  };
}
