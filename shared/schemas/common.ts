import * as v from 'valibot';
import { normaliseChannel } from '../channel-name.js';
import type { Config } from '../config.js';
import { isPlainObject, jsonBytes } from '../json.js';

/** The subset of Config that shapes validation; tests and log-only mode build schemas from it. */
export type Limits = Pick<
  Config,
  | 'maxAgentId'
  | 'maxPayloadBytes'
  | 'maxDescription'
  | 'maxCapabilities'
  | 'maxCapability'
  | 'maxName'
  | 'maxStatus'
  | 'maxChannel'
>;

/** No limits at all: what log-only mode falls back to when only a limit was broken. */
export const UNBOUNDED: Limits = {
  maxAgentId: Number.MAX_SAFE_INTEGER,
  maxPayloadBytes: Number.MAX_SAFE_INTEGER,
  maxDescription: Number.MAX_SAFE_INTEGER,
  maxCapabilities: Number.MAX_SAFE_INTEGER,
  maxCapability: Number.MAX_SAFE_INTEGER,
  maxName: Number.MAX_SAFE_INTEGER,
  maxStatus: Number.MAX_SAFE_INTEGER,
  maxChannel: Number.MAX_SAFE_INTEGER,
};

export const AGENT_ID_RE = /^[A-Za-z0-9._-]+$/;
export const CHANNEL_RE = /^[a-z0-9_-]+$/;

/** `null` means absent (§2.1). */
export const opt = <S extends v.GenericSchema>(s: S) => v.nullish(s);

export const str = (max: number) => v.pipe(v.string(), v.maxLength(max, `at most ${max} characters`));
export const nonEmpty = (max: number) =>
  v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(max, `at most ${max} characters`));
// safe integers only: a seq or a count past 2^53 cannot be told from its neighbours
export const int = () => v.pipe(v.number(), v.safeInteger('must be an integer within ±2^53'));
export const nonNegInt = () =>
  v.pipe(v.number(), v.safeInteger('must be an integer within ±2^53'), v.minValue(0, 'must be ≥ 0'));

/** A JSON object (not an array), at most `max` bytes as JSON. The size check's issue maps to `too_long`. */
export const jsonObject = (max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, 'must be an object'),
    v.check((o) => max === Number.MAX_SAFE_INTEGER || jsonBytes(o) <= max, `at most ${max} bytes as JSON`),
  );

export const agentId = (l: Limits) =>
  v.pipe(
    v.string(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(l.maxAgentId, `at most ${l.maxAgentId} characters`),
    v.regex(AGENT_ID_RE, 'only letters, digits, ".", "_" and "-"'),
  );

export const capabilities = (l: Limits) =>
  v.pipe(v.array(str(l.maxCapability)), v.maxLength(l.maxCapabilities, `at most ${l.maxCapabilities} capabilities`));

/** §4 normalisation, then validation. */
export const channelName = (l: Limits) =>
  v.pipe(
    v.string(),
    v.transform(normaliseChannel),
    // a distinct check from minLength: "!!!" is a name that normalises to nothing, not a missing field
    v.nonEmpty('is empty after normalisation: a channel name needs a letter, digit, "-" or "_"'),
    v.maxLength(l.maxChannel, `at most ${l.maxChannel} characters`),
  );

/** §9.28: header and field alike; a longer key is refused, never truncated. */
export const IDEMPOTENCY_KEY_MAX = 128;
export const idempotencyKey = () => opt(str(IDEMPOTENCY_KEY_MAX));

/** Query strings arrive as text; a number that is not a whole number is a 422, never a 500 (§9.13). */
export const queryInt = () =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,15}$/, 'must be a non-negative integer'),
    v.transform((s) => Number(s)),
  );
