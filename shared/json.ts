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

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Byte length of a value as JSON text. */
export function jsonBytes(x: unknown): number {
  return Buffer.byteLength(JSON.stringify(x) ?? '');
}
