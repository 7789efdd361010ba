import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { type Config, ConfigSchema } from '../shared/config.js';

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `AGENTCOM_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** Turns flag or env text into the type the key's default has. */
function coerce(key: keyof Config, text: string): unknown {
  const def = v.getDefault(ConfigSchema.entries[key] as v.OptionalSchema<v.GenericSchema, unknown>);
  if (typeof def === 'number') return text.trim() === '' ? Number.NaN : Number(text);
  if (typeof def === 'boolean') return text === 'true' || text === '1';
  if (typeof def === 'object') return JSON.parse(text);
  return text;
}

export class ConfigError extends Error {}

/**
 * Defaults ← config file (`--config`/AGENTCOM_CONFIG) ← env ← flags. Validated
 * once here; the rest of the hub trusts the result. `PORT` is honoured as the
 * original hub did.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const keys = Object.keys(ConfigSchema.entries) as Array<keyof Config>;
  const byFlag = new Map(keys.map((k) => [kebab(k), k]));
  const raw: Record<string, unknown> = {};
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument: ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    flags[name] = value;
  }
  const file = flags.config ?? env.AGENTCOM_CONFIG;
  if (file) Object.assign(raw, JSON.parse(readFileSync(file, 'utf8')));
  if (env.PORT) raw.port = coerce('port', env.PORT);
  for (const k of keys) {
    const e = env[envName(k)];
    if (e !== undefined) raw[k] = coerce(k, e);
  }
  for (const [name, value] of Object.entries(flags)) {
    if (name === 'config') continue;
    const k = byFlag.get(name);
    if (!k) throw new ConfigError(`unknown flag --${name}`);
    raw[k] = coerce(k, value);
  }
  const r = v.safeParse(ConfigSchema, raw);
  if (!r.success) {
    const msg = r.issues.map((i) => `${i.path?.map((p) => (p as { key: string }).key).join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${msg.join('; ')}`);
  }
  return r.output;
}
