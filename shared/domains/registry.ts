import type { BucketLimit } from '../config.js';
import type { Action } from '../ratelimit.js';
import type { Page, PageArgs } from './domain.js';

/** The registry domain: tokens (hashed), hub config, rate-limit overrides and whitelist. */
export type Overrides = Partial<Record<Action, BucketLimit>>;

/** Everything the main thread caches from the registry at start. */
export interface RegistrySnapshot {
  tokens: Array<[hash: string, agentId: string]>;
  config: Record<string, unknown>;
  overrides: Record<string, Overrides>;
  whitelist: string[];
}

export interface IssuedToken {
  agent_id: string;
  token: string;
  hash: string;
}

export interface RegistryApi {
  snapshot(a: Record<string, never>): RegistrySnapshot;
  /** Ensures an admin token exists; the plaintext only when one was generated now. */
  ensureAdminToken(a: { provided: string }): { hash: string; generated?: string };
  setAdminHash(a: { hash: string }): void;
  createToken(a: { agent_id: string }): IssuedToken;
  onboard(a: { agent_id: string }): IssuedToken;
  listTokens(a: PageArgs): Page<{ agent_id: string; token_prefix: string }>;
  revokeAgent(a: { agent_id: string }): string[];
  resetToken(a: { agent_id: string }): IssuedToken & { revoked: string[] };
  setConfig(a: { key: string; value: unknown }): void;
  setOverrides(a: { agent_id: string; overrides: Overrides }): Overrides;
  removeOverrides(a: { agent_id: string }): boolean;
  setWhitelist(a: { ids: string[] }): string[];
  addWhitelist(a: { id: string }): void;
  removeWhitelist(a: { id: string }): void;
  health(a: Record<string, never>): { counts: Record<string, number> };
}
