import { rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { lmdbDomains } from '../../main/domains.js';
import { createLogger } from '../../main/log.js';
import { type Config, parseConfig } from '../../shared/config.js';
import type { ChannelsApi } from '../../shared/domains/channels.js';
import type { Domain } from '../../shared/domains/domain.js';
import type { MessagingApi } from '../../shared/domains/messaging.js';
import type { RegistryApi } from '../../shared/domains/registry.js';
import type { TaskApi } from '../../shared/domains/tasks.js';
import type { HubError } from '../../shared/errors.js';
import { tempDir } from './hub.js';

/** The four domains as main sees them: op tables behind `call`, whatever stores them. */
export interface ContractDomains {
  registry: Domain<RegistryApi>;
  messaging: Domain<MessagingApi>;
  channels: Domain<ChannelsApi>;
  tasks: Domain<TaskApi>;
}

/**
 * Every implementation of the domain contracts (shared/domains/). Each
 * contract suite (test/domain-contract*.test.ts) runs once per entry; LMDB
 * behind piscina workers is the one today.
 */
export const BACKENDS: Array<{ name: string; start: (dataDir: string, config: Config) => ContractDomains }> = [
  {
    name: 'lmdb',
    start: (dataDir, config) =>
      lmdbDomains(dataDir, config, {
        batchMax: 256,
        queueMax: 10_000,
        inFlightMax: 2,
        log: createLogger({ logLevel: 'silent' }),
      }),
  },
];

/**
 * Starts `backend` in a data dir of its own for the describe this is called
 * in. The caps are small so the suites can reach them: a mailbox keeps 3
 * entries, a channel's history 2; the rest are the defaults.
 */
export function contractDomains(backend: (typeof BACKENDS)[number]): { readonly d: ContractDomains } {
  const ctx = {} as { d: ContractDomains; dir: string };
  before(() => {
    ctx.dir = tempDir('agentcom-contract-');
    ctx.d = backend.start(ctx.dir, parseConfig({ data: ctx.dir, mailboxMax: 3, channelHistoryPerChannel: 2 }));
  });
  after(async () => {
    await Promise.all(Object.values(ctx.d).map((x) => x.close()));
    rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}

/** The stable code of a refused call. */
export const code = (err: unknown) => (err as HubError).code;
