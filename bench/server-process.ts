import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/ is one level down). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** tsx's loader as an absolute URL, for `--import` in child processes and threads whatever their cwd. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/**
 * How the bench runs the hub: `dist` is what `npm start` does (tsc build,
 * then `node dist/main/index.js`); `tsx` runs the TypeScript sources as
 * `npm run dev` does (no build; what the smoke test uses).
 */
export type HubCommand = 'dist' | 'tsx';

export interface ServerHandle {
  kind: 'hub' | 'baseline';
  /** null when the bench did not start it and was not told its pid */
  pid: number | null;
  wsUrl: string;
  apiUrl: string;
  adminUrl: string;
  adminToken: string;
  /** the data directory the bench created for it */
  dataDir: string | null;
  external: boolean;
  /** pino lines at error level or above that the server logged */
  errorLines(): string[];
  /** exit code after stop(); null while running or when external */
  exitCode(): number | null;
  stop(): Promise<void>;
}

let built: Promise<void> | null = null;

/** `npm run build` once per bench process (what `npm start`'s prestart does). */
export function buildHub(): Promise<void> {
  built ??= new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm run build failed (${code}):\n${out.slice(-2000)}`)),
    );
  });
  return built;
}

export interface StartOptions {
  hubCommand?: HubCommand;
  /** extra hub flags, e.g. ["--batch-max", "512"] */
  hubArgs?: string[];
  logLevel?: string;
  /** parent of the temporary data directory (default: the OS temp dir) */
  dataParent?: string;
  startTimeoutMs?: number;
}

/** Starts the hub (or the baseline) as a child process on free loopback ports with a fresh data dir. */
export async function startServer(kind: 'hub' | 'baseline', opts: StartOptions = {}): Promise<ServerHandle> {
  const dataDir = mkdtempSync(join(opts.dataParent ?? tmpdir(), `agentcom-bench-${kind}-`));
  const adminToken = randomBytes(24).toString('hex');
  let args: string[];
  if (kind === 'baseline') {
    args = ['--import', TSX_IMPORT, join(ROOT, 'bench/baseline.ts'), '--port', '0'];
  } else {
    const cmd = opts.hubCommand ?? 'dist';
    if (cmd === 'dist') await buildHub();
    const entry = cmd === 'dist' ? join(ROOT, 'dist/main/index.js') : join(ROOT, 'main/index.ts');
    if (!existsSync(entry)) throw new Error(`hub entry ${entry} not found`);
    args = [
      ...(cmd === 'tsx' ? ['--import', TSX_IMPORT] : []),
      entry,
      ...['--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--data', dataDir],
      // the ports come from the info-level "hub listening" line; a quieter level is set once it is read
      ...['--log-level', 'info'],
      ...(opts.hubArgs ?? []),
    ];
  }
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, AGENTCOM_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const handle = await attach(kind, child, dataDir, adminToken, opts.startTimeoutMs ?? 30_000);
    if (kind === 'hub' && opts.logLevel && opts.logLevel !== 'info') await setLogLevel(handle, opts.logLevel);
    return handle;
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function setLogLevel(h: ServerHandle, level: string): Promise<void> {
  const res = await fetch(`${h.adminUrl}/admin/log-level`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ level: level === 'warn' ? 'warning' : level }),
  });
  if (!res.ok) throw new Error(`setting the hub's log level to ${level}: ${res.status} ${await res.text()}`);
}

function attach(
  kind: 'hub' | 'baseline',
  child: ChildProcess,
  dataDir: string,
  adminToken: string,
  timeoutMs: number,
): Promise<ServerHandle> {
  const errors: string[] = [];
  const tail: string[] = [];
  let exitCode: number | null = null;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : -1);
      r();
    }),
  );
  child.stderr?.on('data', (d) => {
    tail.push(String(d));
    if (tail.length > 40) tail.shift();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${kind} did not report "hub listening" in ${timeoutMs} ms`)),
      timeoutMs,
    );
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${exitCode}) before listening:\n${tail.join('').slice(-2000)}`));
    });
    // keep reading stdout for the whole run: a full pipe would stall the hub
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let rec: { msg?: string; level?: number; public?: string; ws?: string; admin?: string };
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if ((rec.level ?? 0) >= 50 && errors.length < 50) errors.push(line.slice(0, 500));
      if (rec.msg !== 'hub listening' || !rec.public || !rec.ws || !rec.admin) return;
      clearTimeout(timer);
      resolve({
        kind,
        pid: child.pid ?? null,
        wsUrl: rec.ws,
        apiUrl: rec.public,
        adminUrl: rec.admin,
        adminToken,
        dataDir,
        external: false,
        errorLines: () => errors,
        exitCode: () => exitCode,
        async stop() {
          if (exitCode === null) {
            child.kill('SIGTERM');
            const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(force);
          }
          rmSync(dataDir, { recursive: true, force: true });
        },
      });
    });
  });
}

/** A hub the operator runs (`--url`): nothing to start or stop. */
export function externalHub(wsUrl: string, adminUrl: string, adminToken: string, pid: number | null): ServerHandle {
  const u = new URL(wsUrl);
  const apiUrl = `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
  return {
    kind: 'hub',
    pid,
    wsUrl,
    apiUrl,
    adminUrl: adminUrl.replace(/\/$/, ''),
    adminToken,
    dataDir: null,
    external: true,
    errorLines: () => [],
    exitCode: () => null,
    stop: async () => {},
  };
}
