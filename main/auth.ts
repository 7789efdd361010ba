import type { Domain } from '../shared/domains/domain.js';
import type { RegistryApi } from '../shared/domains/registry.js';
import { hashToken, sameHash } from '../shared/tokens.js';
import type { Logger } from './log.js';

/**
 * The main thread's copy of the registry's token table (hash → agent), so
 * checking a request never waits on a worker. The registry worker stays the
 * only writer; every change there is mirrored here after it commits.
 */
export class TokenCache {
  private readonly byHash = new Map<string, string>();
  private readonly perAgent = new Map<string, Set<string>>();
  private adminHash = '';

  /** Replaces the cache with the registry's table (at start, and after a restore). */
  load(tokens: Array<[string, string]>, adminHash: string): void {
    this.byHash.clear();
    this.perAgent.clear();
    for (const [hash, agent] of tokens) this.add(hash, agent);
    this.adminHash = adminHash;
  }

  add(hash: string, agent: string): void {
    this.byHash.set(hash, agent);
    const set = this.perAgent.get(agent) ?? new Set<string>();
    this.perAgent.set(agent, set);
    set.add(hash);
  }

  remove(hashes: readonly string[]): void {
    for (const h of hashes) {
      const agent = this.byHash.get(h);
      if (agent === undefined) continue;
      this.byHash.delete(h);
      const set = this.perAgent.get(agent);
      set?.delete(h);
      if (set && set.size === 0) this.perAgent.delete(agent);
    }
  }

  /** The agent a token belongs to, with the token's hash. */
  lookup(token: string): { agent: string; hash: string } | null {
    const hash = hashToken(token);
    const agent = this.byHash.get(hash);
    return agent === undefined ? null : { agent, hash };
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  get adminTokenHash(): string {
    return this.adminHash;
  }

  isAdmin(token: string): boolean {
    return this.adminHash !== '' && sameHash(hashToken(token), this.adminHash);
  }

  /** Agents holding at least one token: the broadcast mailbox audience (§9.12). */
  agents(): IterableIterator<string> {
    return this.perAgent.keys();
  }

  agentCount(): number {
    return this.perAgent.size;
  }
}

/** `Authorization: Bearer <t>` (and `?token=` where the route allows it). */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m ? m[1] : null;
}

/**
 * Issues a token in the registry (`createToken`, or `onboard` which refuses a
 * taken agent_id) and mirrors it into the cache once committed.
 */
export async function issueToken(
  d: { registry: Domain<RegistryApi>; tokens: TokenCache; log: Logger },
  how: 'createToken' | 'onboard',
  agentId: string,
): Promise<string> {
  const r = await d.registry.call(how, { agent_id: agentId });
  d.tokens.add(r.hash, r.agent_id);
  d.log.info({ agent_id: agentId, via: how }, 'token issued');
  return r.token;
}
