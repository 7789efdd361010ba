import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHILD_ADMIN_TOKEN = 'child-admin-token';

export interface ChildHub {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  adminUrl: string;
  exit: Promise<number | null>;
}

/** The hub as its own process (`main/index.ts` through tsx), for kill -9 and signal tests. */
export async function startChildHub(dataDir: string, flags: string[] = []): Promise<ChildHub> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'main/index.ts',
      ...['--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--data', dataDir, '--log-level', 'info'],
      ...flags,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, AGENTCOM_ADMIN_TOKEN: CHILD_ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exit = once(proc, 'exit').then(([code]) => code as number | null);
  const listening = new Promise<{ public: string; ws: string; admin: string }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('child hub did not start in 20 s')), 20_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const rec = JSON.parse(line);
        if (rec.msg === 'hub listening') {
          clearTimeout(t);
          resolve(rec);
        }
      } catch {}
    });
    exit.then((code) => reject(new Error(`child hub exited early (${code})`)));
  });
  const l = await listening;
  return { proc, url: l.public, wsUrl: l.ws, adminUrl: l.admin, exit };
}
