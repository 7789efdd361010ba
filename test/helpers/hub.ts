import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningHub, startHub } from '../../main/hub.js';
import type { Logger } from '../../main/log.js';
import { type Config, parseConfig } from '../../shared/config.js';
import { until } from './client.js';

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestHub extends RunningHub {
  dataDir: string;
  url: string;
  wsUrl: string;
  adminUrl: string;
  /** closes the hub; removes the data dir unless `keepData` */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export function tempDir(prefix = 'agentcom-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A real hub on ephemeral ports with its own data directory. */
export async function startTestHub(
  overrides: Partial<Config> = {},
  dataDir = tempDir(),
  log?: Logger,
): Promise<TestHub> {
  const config = parseConfig({
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    data: dataDir,
    logLevel: 'silent',
    adminToken: ADMIN_TOKEN,
    ...overrides,
  });
  const running = await startHub(config, log);
  let stopped = false;
  return {
    ...running,
    dataDir,
    url: `http://127.0.0.1:${running.port}`,
    wsUrl: `ws://127.0.0.1:${running.port}/ws`,
    adminUrl: `http://127.0.0.1:${running.adminPort}`,
    async stop(opts = {}) {
      if (!stopped) await running.close();
      stopped = true;
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

export async function api(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(base + path, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

/** Waits until presence no longer lists `agent` (its socket's close has been processed). */
export async function waitOffline(hub: TestHub, agent: string, ms = 5000): Promise<void> {
  await until(
    async () => {
      const r = await api(hub.url, 'GET', '/api/agents');
      return !r.body.agents.some((a: { agent_id: string }) => a.agent_id === agent);
    },
    `${agent} offline`,
    ms,
  );
}

/** A token from the admin port (tests never onboard unless they test onboarding). */
export async function tokenFor(hub: TestHub, agentId: string): Promise<string> {
  const r = await api(hub.adminUrl, 'POST', '/admin/tokens', { token: ADMIN_TOKEN, body: { agent_id: agentId } });
  if (r.status !== 201) throw new Error(`token for ${agentId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export async function whitelist(hub: TestHub, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    await api(hub.adminUrl, 'POST', '/admin/rate-limits/whitelist', { token: ADMIN_TOKEN, body: { agent_id: id } });
  }
}

/** A hub for bad-input tables: one whitelisted agent `fuzz`, violations never close its socket. */
export async function startFuzzHub(): Promise<{ hub: TestHub; token: string }> {
  const hub = await startTestHub({ violationMax: 1000 });
  const token = await tokenFor(hub, 'fuzz');
  await whitelist(hub, 'fuzz');
  return { hub, token };
}
