/**
 * Depth of the deepest array/object in a JSON text, scanned before parsing so
 * a hostile `[[[[…` frame is refused without recursion (§9.19). Stops early
 * once past `limit`.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped char
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * What a parsed value breaks, in one walk: `deep` when nested past `limit`
 * (the limit `jsonDepthExceeds` scans text for), `proto` when an object
 * holds an own `__proto__` key, else null. The store's msgpack decoder
 * renames that key (a guard against prototype pollution), so such a value
 * would not come back as it was acked. Recursion is bounded by `limit`, so
 * it is safe on any input; it is cheaper than scanning text when a payload
 * is a few objects holding long strings, the common case.
 */
export function valueFault(x: unknown, limit: number, depth = 0): 'deep' | 'proto' | null {
  if (typeof x !== 'object' || x === null) return null;
  if (depth + 1 > limit) return 'deep';
  let found: 'proto' | null = Array.isArray(x) || !Object.hasOwn(x, '__proto__') ? null : 'proto';
  // for…in walks an array's indexes too, without the copy Object.values would make per object
  for (const k in x) {
    const f = valueFault((x as Record<string, unknown>)[k], limit, depth + 1);
    if (f === 'deep') return f;
    found ??= f;
  }
  return found;
}

/**
 * An own `__proto__` key anywhere in input `valueFault` did not walk (it is
 * depth-checked already): walked only when the text could name the key,
 * literally or with escapes.
 */
export function holdsProtoKey(text: string, value: unknown): boolean {
  return (
    (text.includes('__proto__') || text.includes('\\u')) && valueFault(value, Number.POSITIVE_INFINITY) === 'proto'
  );
}

/** Below this size a frame is parsed before its depth is checked (V8's parser is not recursive). */
export const SCAN_FIRST_BYTES = 16 * 1024;

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Byte length of a value as JSON text. */
export function jsonBytes(x: unknown): number {
  return Buffer.byteLength(JSON.stringify(x) ?? '');
}
