import type { Overrides, RegistrySnapshot } from '../shared/domains/registry.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import { hashToken, newToken } from '../shared/tokens.js';
import { all, count, type Db, type DomainEnv, type PageArgs, readPage } from './env.js';

export const REGISTRY_DBS = ['meta', 'tokens', 'tokensByAgent', 'config', 'overrides', 'whitelist'] as const;
export type RegistryDb = (typeof REGISTRY_DBS)[number];

interface TokenRec {
  agent_id: string;
  prefix: string;
  created_at: number;
}

/** The registry domain: tokens (hashed), hub config, rate-limit overrides and whitelist. */
export class RegistryStore {
  private readonly db: Record<RegistryDb, Db>;

  constructor(env: DomainEnv<RegistryDb>) {
    this.db = env.dbs;
  }

  counts(): Record<string, number> {
    return { tokens: count(this.db.tokens), config: count(this.db.config) };
  }

  snapshot(): RegistrySnapshot {
    const tokens: Array<[string, string]> = [];
    for (const { key, value } of this.db.tokens.getRange({}))
      tokens.push([key as string, (value as TokenRec).agent_id]);
    // fromEntries makes own properties whatever the key: an agent named `__proto__` keeps its overrides
    const config: Record<string, unknown> = Object.fromEntries(
      all(this.db.config.getRange({})).map(({ key, value }) => [key as string, value]),
    );
    const overrides: Record<string, Overrides> = Object.fromEntries(
      all(this.db.overrides.getRange({})).map(({ key, value }) => [key as string, value as Overrides]),
    );
    const whitelist = all(this.db.whitelist.getKeys({})) as string[];
    return { tokens, config, overrides, whitelist };
  }

  /** Ensures an admin token exists. Returns the plaintext only when one was generated now. */
  ensureAdminToken(provided: string): { hash: string; generated?: string } {
    if (provided) {
      const hash = hashToken(provided);
      this.db.meta.putSync('admin_token_hash', hash);
      return { hash };
    }
    const stored = this.db.meta.get('admin_token_hash') as string | undefined;
    if (stored) return { hash: stored };
    const generated = newToken();
    const hash = hashToken(generated);
    this.db.meta.putSync('admin_token_hash', hash);
    return { hash, generated };
  }

  /** Keeps the admin token that is in use (a restore must not bring back an older one). */
  setAdminHash(hash: string): void {
    this.db.meta.putSync('admin_token_hash', hash);
  }

  createToken(agentId: string, now: number): { agent_id: string; token: string; hash: string } {
    const token = newToken();
    const hash = hashToken(token);
    this.putToken(token, hash, agentId, now);
    return { agent_id: agentId, token, hash };
  }

  /** Stores a token (hashed, with its prefix) under its agent. */
  private putToken(token: string, hash: string, agentId: string, now: number): void {
    this.db.tokens.putSync(hash, { agent_id: agentId, prefix: token.slice(0, 8), created_at: now } satisfies TokenRec);
    this.db.tokensByAgent.putSync([agentId, hash], 1);
  }

  /**
   * Takes a token issued elsewhere (the original hub's `tokens.json`), stored
   * hashed like every token. A token already held is left as it is: returns
   * the agent it belongs to, or null when it was imported now.
   */
  importToken(token: string, agentId: string, now: number): string | null {
    const hash = hashToken(token);
    const held = this.db.tokens.get(hash) as TokenRec | undefined;
    if (held) return held.agent_id;
    this.putToken(token, hash, agentId, now);
    return null;
  }

  hasTokens(agentId: string): boolean {
    return all(this.db.tokensByAgent.getKeys({ start: [agentId], end: [agentId, '\uffff'], limit: 1 })).length > 0;
  }

  /** Onboarding: one registration per agent_id (409 once any token exists). */
  onboard(agentId: string, now: number): { agent_id: string; token: string; hash: string } {
    if (this.hasTokens(agentId)) throw new HubError(ErrorCode.agentIdTaken);
    return this.createToken(agentId, now);
  }

  /** A page of tokens by agent (prefixes only, never a token). */
  listTokens(page: PageArgs) {
    return readPage(this.db.tokensByAgent, page, (key) => {
      const rec = this.db.tokens.get((key as [string, string])[1]) as TokenRec | undefined;
      return { agent_id: (key as [string, string])[0], token_prefix: `${rec?.prefix ?? ''}...` };
    });
  }

  /** Revokes every token of the agent; returns the revoked hashes. */
  revokeAgent(agentId: string): string[] {
    const hashes: string[] = [];
    for (const key of all(this.db.tokensByAgent.getKeys({ start: [agentId], end: [agentId, '\uffff'] }))) {
      const hash = (key as [string, string])[1];
      this.db.tokens.removeSync(hash);
      this.db.tokensByAgent.removeSync(key);
      hashes.push(hash);
    }
    return hashes;
  }

  /** Revoke all, then issue one new token (`reset-token`). */
  resetToken(agentId: string, now: number) {
    if (!this.hasTokens(agentId)) throw new HubError(ErrorCode.agentNotFound);
    const revoked = this.revokeAgent(agentId);
    return { ...this.createToken(agentId, now), revoked };
  }

  setConfig(key: string, value: unknown): void {
    this.db.config.putSync(key, value);
  }

  setOverrides(agentId: string, overrides: Overrides): Overrides {
    const merged = { ...((this.db.overrides.get(agentId) as Overrides | undefined) ?? {}), ...overrides };
    this.db.overrides.putSync(agentId, merged);
    return merged;
  }

  removeOverrides(agentId: string): boolean {
    return this.db.overrides.removeSync(agentId);
  }

  setWhitelist(ids: readonly string[]): string[] {
    for (const k of all(this.db.whitelist.getKeys({}))) this.db.whitelist.removeSync(k);
    for (const id of ids) this.db.whitelist.putSync(id, 1);
    return [...new Set(ids)].sort();
  }

  addWhitelist(id: string): void {
    this.db.whitelist.putSync(id, 1);
  }

  removeWhitelist(id: string): void {
    this.db.whitelist.removeSync(id);
  }
}
