/**
 * §4 channel-name normalisation: strip leading `#`, lower-case, drop chars
 * outside [a-z0-9_-]. Free of valibot so the client SDK can use it too.
 */
export function normaliseChannel(name: string): string {
  return name
    .replace(/^#+/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '');
}
