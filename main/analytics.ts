/**
 * In-memory per-agent counters for `/api/analytics/*` (§3.6): connections,
 * connected time, last active/seen, and hourly sent/received for 24 h.
 */
const HOUR = 3600_000;

interface AgentStats {
  connects: number;
  connectedMs: number;
  connectedSince: number | null;
  lastActive: number;
  lastSeen: number;
  /** ring of 24 hourly buckets keyed by hour start */
  hours: Array<{ hour: number; sent: number; received: number }>;
}

export class Analytics {
  private readonly agents = new Map<string, AgentStats>();

  private get(agent: string): AgentStats {
    let s = this.agents.get(agent);
    if (!s) {
      s = { connects: 0, connectedMs: 0, connectedSince: null, lastActive: 0, lastSeen: 0, hours: [] };
      this.agents.set(agent, s);
    }
    return s;
  }

  private bucket(s: AgentStats, now: number) {
    const hour = now - (now % HOUR);
    let b = s.hours[s.hours.length - 1];
    if (!b || b.hour !== hour) {
      b = { hour, sent: 0, received: 0 };
      s.hours.push(b);
      while (s.hours.length && s.hours[0].hour <= hour - 24 * HOUR) s.hours.shift();
    }
    return b;
  }

  connected(agent: string, now: number): void {
    const s = this.get(agent);
    s.connects++;
    s.connectedSince = now;
    s.lastSeen = now;
  }

  disconnected(agent: string, now: number): void {
    const s = this.get(agent);
    if (s.connectedSince !== null) s.connectedMs += now - s.connectedSince;
    s.connectedSince = null;
    s.lastSeen = now;
  }

  seen(agent: string, now: number): void {
    this.get(agent).lastSeen = now;
  }

  sent(agent: string, now: number): void {
    const s = this.get(agent);
    s.lastActive = now;
    this.bucket(s, now).sent++;
  }

  received(agent: string, now: number): void {
    this.bucket(this.get(agent), now).received++;
  }

  private sum(s: AgentStats, now: number, key: 'sent' | 'received', since = now - 24 * HOUR): number {
    let n = 0;
    for (const b of s.hours) if (b.hour + HOUR > since) n += b[key];
    return n;
  }

  summary(connected: ReadonlySet<string>, now: number) {
    let active = 0;
    let total = 0;
    for (const [id, s] of this.agents) {
      total += this.sum(s, now, 'sent');
      if (connected.has(id) && now - s.lastActive < 5 * 60_000) active++;
    }
    return {
      total_agents: this.agents.size,
      agents_connected: connected.size,
      agents_active: active,
      agents_idle: connected.size - active,
      agents_offline: this.agents.size - connected.size,
      total_messages_24h: total,
      timestamp: now,
    };
  }

  perAgent(connected: ReadonlySet<string>, statusOf: (id: string) => string | null, now: number) {
    return [...this.agents].map(([id, s]) => ({
      agent_id: id,
      connected: connected.has(id),
      idle_ms: s.lastActive ? now - s.lastActive : null,
      status: statusOf(id) ?? 'offline',
      messages_sent_24h: this.sum(s, now, 'sent'),
      messages_received_24h: this.sum(s, now, 'received'),
      messages_sent_this_hour: this.sum(s, now, 'sent', now - (now % HOUR)),
      connection_time_24h_ms: s.connectedMs + (s.connectedSince !== null ? now - s.connectedSince : 0),
      last_active: s.lastActive || null,
      last_seen: s.lastSeen || null,
      total_connections: s.connects,
    }));
  }

  hourly(agent: string, now: number) {
    const s = this.agents.get(agent);
    const top = now - (now % HOUR);
    const hourly = [];
    for (let i = 23; i >= 0; i--) {
      const hour = top - i * HOUR;
      const b = s?.hours.find((h) => h.hour === hour);
      hourly.push({ bucket: 23 - i, hour, sent: b?.sent ?? 0, received: b?.received ?? 0 });
    }
    return { agent_id: agent, hourly };
  }
}
