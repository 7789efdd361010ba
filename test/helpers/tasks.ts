import { after, before } from 'node:test';
import { sleep } from './client.js';
import { startTestHub, type TestHub, tokenFor, whitelist } from './hub.js';

/** Waits for task suites are generous (other suites share the cores); no assert measures time. */
export const WAIT = 10_000;

/** Polls `probe` until it gives something truthy (returned), or fails naming `what`. */
export async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = WAIT): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(25);
  }
}

export interface Ctx {
  hub: TestHub;
  tok: Record<string, string>;
}

/** A hub for the suite (started before its tests, stopped after) with a whitelisted token per agent. */
export function harness(overrides: Parameters<typeof startTestHub>[0], agents: string[]): Ctx {
  const ctx = { tok: {} } as Ctx;
  before(async () => {
    ctx.hub = await startTestHub(overrides);
    for (const a of agents) ctx.tok[a] = await tokenFor(ctx.hub, a);
    await whitelist(ctx.hub, ...agents);
  });
  after(() => ctx.hub.stop());
  return ctx;
}
