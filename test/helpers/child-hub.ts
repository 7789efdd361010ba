import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { api } from './hub.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The hub as its own OS process, started from the TypeScript sources through tsx. */
export interface ChildHub {
  proc: ChildProcess;
  pid: number;
  dataDir: string;
  adminToken: string;
  /** `http://127.0.0.1:<port>` of the public port */
  url: string;
  wsUrl: string;
  /** `http://127.0.0.1:<port>` of the admin port */
  adminUrl: string;
  /** every pino JSON line the child printed so far */
  logs: Array<Record<string, unknown>>;
  /** what the child wrote to stderr, for failure messages */
  stderr(): string;
  /** resolves once the process has exited (by code or by signal) */
  exited: Promise<ChildExit>;
  /** a token for `agentId`, issued on the admin port */
  token(agentId: string): Promise<string>;
  /** replaces the rate-limit whitelist (persisted by the hub) */
  whitelist(ids: string[]): Promise<void>;
}

export interface ChildHubOptions {
  adminToken?: string;
  /** extra CLI flags, e.g. `['--shutdown-ms', '5000']` */
  flags?: string[];
  startTimeoutMs?: number;
}

/** The test runner's environment without AGENTCOM_* / PORT (nor node:test's marker), so only the flags configure the child. */
function hostEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('AGENTCOM_') && k !== 'PORT' && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return env;
}

/** Children not yet seen to exit, so `killChildHubs` can clean up after a failed test. */
const running = new Set<ChildProcess>();

/**
 * Spawns `node --import tsx main/index.ts` on ephemeral ports with `dataDir`,
 * and resolves once the child logs "hub listening" (its `public` and `admin`
 * fields give the ports).
 */
export async function spawnChildHub(dataDir: string, opts: ChildHubOptions = {}): Promise<ChildHub> {
  const adminToken = opts.adminToken ?? 'child-hub-admin-token';
  const args = ['--import', 'tsx', 'main/index.ts'];
  args.push('--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--data', dataDir, '--log-level', 'info');
  args.push(...(opts.flags ?? []));
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...hostEnv(), AGENTCOM_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const exited = new Promise<ChildExit>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    });
  });
  let errText = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => {
    errText = (errText + d).slice(-20_000);
  });
  const logs: Array<Record<string, unknown>> = [];
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    const t = setTimeout(
      () => reject(new Error(`child hub did not listen within ${timeoutMs} ms\n${errText}`)),
      timeoutMs,
    );
    lines.on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (logs.length < 10_000) logs.push(rec);
      if (rec.msg === 'hub listening') {
        clearTimeout(t);
        resolve(rec);
      }
    });
    exited.then((e) => {
      clearTimeout(t);
      reject(new Error(`child hub exited before listening (${e.code ?? e.signal})\n${errText}`));
    });
  });
  let rec: Record<string, unknown>;
  try {
    rec = await listening;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const url = String(rec.public).replace(/\/$/, '');
  const adminUrl = String(rec.admin).replace(/\/$/, '');
  const wsUrl = typeof rec.ws === 'string' ? rec.ws : `${url.replace(/^http/, 'ws')}/ws`;
  return {
    proc,
    pid: proc.pid as number,
    dataDir,
    adminToken,
    url,
    wsUrl,
    adminUrl,
    logs,
    stderr: () => errText,
    exited,
    async token(agentId) {
      const r = await api(adminUrl, 'POST', '/admin/tokens', { token: adminToken, body: { agent_id: agentId } });
      if (r.status !== 201) throw new Error(`token for ${agentId}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    async whitelist(ids) {
      const r = await api(adminUrl, 'PUT', '/admin/rate-limits/whitelist', {
        token: adminToken,
        body: { agent_ids: ids },
      });
      if (r.status !== 200) throw new Error(`whitelist: ${r.status} ${JSON.stringify(r.body)}`);
    },
  };
}

/** Resolves with the exit, or rejects after `ms`. */
export function exitWithin(child: ChildHub, ms: number): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`child hub still running after ${ms} ms`)), ms);
    child.exited.then((e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

/** SIGKILLs every child this helper started that has not exited yet (test cleanup). */
export async function killChildHubs(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of running) {
    waits.push(new Promise((r) => p.once('exit', r)));
    p.kill('SIGKILL');
  }
  await Promise.all(waits);
}
