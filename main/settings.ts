/**
 * Hub-wide settings changed at run time through the config routes (§3.4) and
 * persisted in the registry domain. Main keeps the current values.
 */
export class Settings {
  heartbeat_interval_ms = 900_000;
  mailbox_ttl_ms: number;
  default_repo: string | null = null;
  alert_thresholds: Record<string, unknown> = {};

  constructor(private readonly defaultMailboxTtlMs: number) {
    this.mailbox_ttl_ms = defaultMailboxTtlMs;
  }

  /** Takes the stored values; a key not stored takes its default (a restore may bring back fewer). */
  load(stored: Record<string, unknown>): void {
    const num = (v: unknown, def: number) => (typeof v === 'number' ? v : def);
    this.heartbeat_interval_ms = num(stored.heartbeat_interval_ms, 900_000);
    this.mailbox_ttl_ms = num(stored.mailbox_ttl_ms, this.defaultMailboxTtlMs);
    this.default_repo = typeof stored.default_repo === 'string' ? stored.default_repo : null;
    this.alert_thresholds =
      stored.alert_thresholds && typeof stored.alert_thresholds === 'object'
        ? (stored.alert_thresholds as Record<string, unknown>)
        : {};
  }
}
