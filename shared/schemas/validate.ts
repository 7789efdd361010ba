import * as v from 'valibot';

/** One item of a `validation_failed` error (PROTOCOL.md §2.3). */
export interface FieldError {
  field: string;
  error: 'required' | 'wrong_type' | 'too_long' | 'unknown_message_type';
  detail: string;
  value?: unknown;
  known_types?: string[];
}

/** A body or frame holding a `__proto__` key anywhere: the store could not give it back as sent (see `holdsProtoKey`). */
export const PROTO_KEY_ERROR: FieldError = {
  field: 'message',
  error: 'wrong_type',
  detail: 'a key named "__proto__" cannot be stored; rename it',
};

function fieldOf(issue: v.BaseIssue<unknown>): string {
  if (!issue.path || issue.path.length === 0) return 'message';
  let out = '';
  for (const p of issue.path) {
    const key = (p as { key: unknown }).key;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

const LIMIT_TYPES = new Set(['max_length', 'max_bytes', 'max_size', 'max_entries', 'check']);

function kindOf(issue: v.BaseIssue<unknown>): FieldError['error'] {
  if (LIMIT_TYPES.has(issue.type)) return 'too_long';
  if (issue.kind === 'schema' && (issue.input === undefined || issue.input === null)) return 'required';
  if (issue.type === 'min_length' && issue.input === '') return 'required';
  return 'wrong_type';
}

export function toFieldErrors(issues: readonly v.BaseIssue<unknown>[]): FieldError[] {
  return issues.map((issue) => {
    // a strict object's key that is not in the schema
    if (issue.expected === 'never') return { field: fieldOf(issue), error: 'wrong_type', detail: 'unknown field' };
    const error = kindOf(issue);
    const detail = error === 'required' ? 'is required' : issue.message;
    const out: FieldError = { field: fieldOf(issue), error, detail };
    const input = issue.input;
    if (error !== 'required' && (typeof input === 'number' || typeof input === 'boolean')) out.value = input;
    else if (error === 'wrong_type' && typeof input === 'string' && input.length <= 64) out.value = input;
    return out;
  });
}

/** True when every issue is a broken limit: log-only mode may still process such input (§9.3). */
export function onlyLimitIssues(errors: FieldError[]): boolean {
  return errors.every((e) => e.error === 'too_long');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function check<S extends v.GenericSchema>(schema: S, input: unknown): Parsed<v.InferOutput<S>> {
  const r = v.safeParse(schema, input, { abortPipeEarly: true });
  return r.success ? { ok: true, value: r.output } : { ok: false, errors: toFieldErrors(r.issues) };
}

/** Top-level keys of `input` the object schema does not know: valibot's `object` drops them without a word. */
export function unknownKeys(schema: v.GenericSchema, input: unknown): string[] {
  const entries = (schema as { entries?: Record<string, unknown> }).entries;
  if (!entries || typeof input !== 'object' || input === null) return [];
  return Object.keys(input).filter((k) => !Object.hasOwn(entries, k));
}
