/**
 * Frame text for the hot path, built by concatenation (no JSON.stringify of a
 * padded object per send) and read back without a full JSON.parse where the
 * bench only needs the type and the send stamp. The payload is
 * `{"bt":<scheduled µs>,"ph":<phase>,"pad":"xxx…"}`, padded to `size` bytes.
 */
export class FrameBuilder {
  private readonly pad: string;

  constructor(size: number) {
    // {"bt":1234567890123456,"ph":12,"pad":""} is about 40 bytes
    this.pad = 'x'.repeat(Math.max(0, size - 40));
  }

  payload(bt: number, ph: number): string {
    return `{"bt":${Math.round(bt)},"ph":${ph},"pad":"${this.pad}"}`;
  }

  direct(to: string, bt: number, ph: number): string {
    return `{"type":"message","to":${JSON.stringify(to)},"payload":${this.payload(bt, ph)}}`;
  }

  broadcast(bt: number, ph: number): string {
    return `{"type":"message","payload":${this.payload(bt, ph)}}`;
  }

  publish(channel: string, bt: number, ph: number): string {
    return `{"type":"channel_publish","channel":${JSON.stringify(channel)},"payload":${this.payload(bt, ph)}}`;
  }
}

const TYPE_PREFIX = '{"type":"';

/** The frame's `type`: read from the prefix when the sender put it first (the hub and the baseline do). */
export function frameType(text: string): string {
  if (text.startsWith(TYPE_PREFIX)) {
    const end = text.indexOf('"', TYPE_PREFIX.length);
    if (end > 0) return text.slice(TYPE_PREFIX.length, end);
  }
  try {
    const t = (JSON.parse(text) as { type?: unknown }).type;
    return typeof t === 'string' ? t : '';
  } catch {
    return '';
  }
}

function numberAfter(text: string, key: string, from: number): { value: number; at: number } | null {
  const i = text.indexOf(key, from);
  if (i < 0) return null;
  let j = i + key.length;
  const start = j;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if ((c < 48 || c > 57) && c !== 46 && c !== 45) break;
    j++;
  }
  const value = Number(text.slice(start, j));
  return Number.isFinite(value) && j > start ? { value, at: j } : null;
}

/** The bench stamp of a delivered message, or null when the payload is not one of ours. */
export function readStamp(text: string): { bt: number; ph: number } | null {
  const bt = numberAfter(text, '"bt":', 0);
  if (!bt) return null;
  const ph = numberAfter(text, '"ph":', bt.at);
  return ph ? { bt: bt.value, ph: ph.value } : null;
}
