/**
 * The reason of the 1008 close that refuses an identify during a violation
 * back-off. A close frame carries only a code and this text, so the wait is
 * written into it by the hub and read back out by the client SDK.
 */
export function identifyRefusedReason(waitMs: number): string {
  return `identify refused for ${Math.ceil(waitMs / 1000)} s after repeated violations`;
}

/** The wait an `identifyRefusedReason` names, in ms; null for any other reason. */
export function identifyRefusedMs(reason: string): number | null {
  const m = /^identify refused for (\d+) s/.exec(reason);
  return m ? Number(m[1]) * 1000 : null;
}
