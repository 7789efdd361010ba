import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, startTestHub, type TestHub } from './helpers/hub.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

describe('client/examples run against a hub with one command each', () => {
  let hub: TestHub;
  let env: NodeJS.ProcessEnv;
  const agents: ChildProcess[] = [];

  before(async () => {
    hub = await startTestHub();
    env = {
      ...process.env,
      AGENTCOM_URL: hub.wsUrl,
      AGENTCOM_ADMIN_URL: hub.adminUrl,
      AGENTCOM_ADMIN_TOKEN: ADMIN_TOKEN,
    };
  });
  after(async () => {
    for (const p of agents) p.kill('SIGTERM');
    await hub.stop();
  });

  /** Starts a long-running example; resolves once it printed `ready`, and collects its later lines. */
  async function start(example: string, ready: string): Promise<string[]> {
    const p = spawn(process.execPath, ['--import', 'tsx', `client/examples/${example}`], { cwd: ROOT, env });
    agents.push(p);
    const lines: string[] = [];
    let stderr = '';
    p.stderr?.on('data', (d) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${example} never said "${ready}": ${stderr}`)), 20_000);
      createInterface({ input: p.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        lines.push(line);
        if (line.includes(ready)) {
          clearTimeout(t);
          resolve();
        }
      });
      p.once('exit', (code) => reject(new Error(`${example} exited (${code}): ${stderr}`)));
    });
    return lines;
  }

  const once = async (example: string, ...args: string[]) =>
    (await run(process.execPath, ['--import', 'tsx', `client/examples/${example}`, ...args], { cwd: ROOT, env }))
      .stdout;

  async function waitFor(lines: string[], text: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.includes(text))) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('echo.ts answers a message; echo.ts <words> sends one and prints the answer', async () => {
    const lines = await start('echo.ts', 'echo is listening');
    const out = await once('echo.ts', 'hi', 'there');
    assert.match(out, /echo answered: \{"echo":\{"text":"hi there"\}\}/);
    await waitFor(lines, 'echo-caller: {"text":"hi there"}');
  });

  test('worker.ts works an "upper" task; worker.ts <words> submits one and prints its result', async () => {
    const lines = await start('worker.ts', 'upper-worker is waiting for tasks');
    const out = await once('worker.ts', 'make', 'me', 'loud');
    assert.match(out, /completed: \{"output":"MAKE ME LOUD"\}/);
    await waitFor(lines, ': complete');
  });

  test('subscriber.ts prints each #news post; subscriber.ts <words> publishes one', async () => {
    const lines = await start('subscriber.ts', 'news-reader follows #news');
    const out = await once('subscriber.ts', 'extra', 'extra');
    assert.match(out, /published #news seq \d+/);
    await waitFor(lines, '#news news-desk: {"text":"extra extra"}');
  });
});
