/**
 * Hub-wide settings changed at run time through the config routes (§3.4) and
 * persisted in the registry domain. Main keeps the current values.
 */
export class Settings {
  heartbeat_interval_ms = 900_000;
  mailbox_ttl_ms: number;
  default_repo: string | null = null;
  alert_thresholds: Record<string, unknown> = {};

  constructor(mailboxTtlMs: number) {
    this.mailbox_ttl_ms = mailboxTtlMs;
  }

  load(stored: Record<string, unknown>): void {
    if (typeof stored.heartbeat_interval_ms === 'number') this.heartbeat_interval_ms = stored.heartbeat_interval_ms;
    if (typeof stored.mailbox_ttl_ms === 'number') this.mailbox_ttl_ms = stored.mailbox_ttl_ms;
    if (typeof stored.default_repo === 'string') this.default_repo = stored.default_repo;
    if (stored.alert_thresholds && typeof stored.alert_thresholds === 'object')
      this.alert_thresholds = stored.alert_thresholds as Record<string, unknown>;
  }
}
