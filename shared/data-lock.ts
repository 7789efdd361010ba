import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { OperatorError } from './errors.js';

/** Who holds a data directory, as the holder reports it. */
export interface LockHolder {
  pid: number;
  role: string;
}

export interface DataLock {
  dir: string;
  release(): Promise<void>;
}

/** What a process does with the directory it locks, shown to whoever is refused. */
export type LockRole = 'hub' | 'restore' | 'import';

export class DataDirHeldError extends OperatorError {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `data directory ${dir} is in use by process ${holder.pid} (agentcom ${holder.role}); stop it first`
        : `data directory ${dir} is in use by another agentcom process; stop it first`,
    );
  }
}

/**
 * Linux: an abstract Unix socket named after the directory's device and
 * inode, so the same directory reached by another path (a bind mount, a
 * symlink) has the same name. Only one process can bind it, and the kernel
 * releases it with the process, so a hub killed with `kill -9` never blocks
 * the next start; the holder answers a connect with its PID.
 */
function socketName(dir: string): string {
  const { dev, ino } = statSync(dir);
  return `\0agentcom-data-${createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 40)}`;
}

function listen(server: Server, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(name, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Asks the holder who it is; null when it does not answer within a second. */
function askHolder(name: string): Promise<LockHolder | null> {
  return new Promise((resolve) => {
    let text = '';
    const sock = connect(name);
    const done = (h: LockHolder | null) => {
      sock.destroy();
      resolve(h);
    };
    sock.setTimeout(1000, () => done(null));
    sock.on('data', (d) => {
      text += d;
    });
    sock.on('end', () => {
      try {
        done(JSON.parse(text) as LockHolder);
      } catch {
        done(null);
      }
    });
    sock.on('error', () => done(null));
  });
}

async function lockBySocket(dir: string, role: LockRole): Promise<DataLock> {
  const name = socketName(dir);
  const me = JSON.stringify({ pid: process.pid, role } satisfies LockHolder);
  const server = createServer((sock) => sock.end(me));
  try {
    await listen(server, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new DataDirHeldError(dir, await askHolder(name));
  }
  server.unref();
  return { dir, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Elsewhere: a PID file, taken over when the PID it names is gone. */
function lockByPidFile(dir: string, role: LockRole): DataLock {
  const file = join(dir, 'agentcom.lock');
  for (;;) {
    try {
      writeFileSync(file, JSON.stringify({ pid: process.pid, role }), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: LockHolder | null = null;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    } catch {}
    if (holder && alive(holder.pid)) throw new DataDirHeldError(dir, holder);
    rmSync(file, { force: true });
  }
  return { dir, release: async () => rmSync(file, { force: true }) };
}

/**
 * Takes the data directory for this process's life (PROTOCOL.md §9.30): a
 * second hub, a restore or an import on a held directory is refused with a
 * `DataDirHeldError` naming the holder's PID. Creates the directory if needed.
 */
export async function lockDataDir(dataDir: string, role: LockRole): Promise<DataLock> {
  mkdirSync(dataDir, { recursive: true });
  const dir = realpathSync(dataDir);
  return process.platform === 'linux' ? lockBySocket(dir, role) : lockByPidFile(dir, role);
}
