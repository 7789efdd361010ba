import * as v from 'valibot';
import { type CliOption, HELP_OPTION, helpText, parseCliGiven, UsageError } from '../shared/cli.js';
import { CONFIG_SECTIONS, type Config, type ConfigKey, ConfigSchema } from '../shared/config.js';
import { readJsonObject } from '../shared/json-file.js';

/** A configuration the hub cannot start with: one line on stderr, exit 2. */
export { UsageError as ConfigError };

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (k: string) => `AGENTCOM_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

type Entry = v.OptionalSchema<v.GenericSchema, unknown>;
const entry = (k: ConfigKey) => ConfigSchema.entries[k] as unknown as Entry;
export const defaultOf = (k: ConfigKey): unknown => v.getDefault(entry(k));
const describe = (k: ConfigKey) => v.getDescription(entry(k).wrapped as never) ?? '';

const placeholder = (k: ConfigKey): string => {
  const def = defaultOf(k);
  if (typeof def === 'number') return 'N';
  if (typeof def === 'object') return 'JSON';
  const w = entry(k).wrapped as { pipe?: Array<{ type: string; options?: string[] }> };
  const list = w.pipe?.find((a) => a.type === 'picklist')?.options;
  return list ? list.join('|') : 'TEXT';
};

/** The hub's option table, generated from the config schema: a flag and an AGENTCOM_* variable per key. */
export const HUB_OPTIONS: CliOption[] = [
  {
    name: 'config',
    type: 'string',
    env: 'AGENTCOM_CONFIG',
    value: 'FILE',
    help: 'a JSON file of settings (camelCase keys); flags win over env, env over the file',
    group: 'Server',
  },
  ...Object.entries(CONFIG_SECTIONS).flatMap(([group, keys]) =>
    Object.keys(keys).map(
      (k): CliOption => ({
        name: kebab(k),
        type: 'string',
        env: envName(k),
        // the original hub read PORT
        ...(k === 'port' ? { legacyEnv: 'PORT' } : {}),
        default: JSON.stringify(defaultOf(k as ConfigKey)),
        value: placeholder(k as ConfigKey),
        help: describe(k as ConfigKey),
        group,
      }),
    ),
  ),
  HELP_OPTION,
];

export const HUB_HELP = helpText(
  'npm start -- [options]   (or: node dist/main/index.js [options])',
  `The AgentCom hub: agents on the public port (WS /ws, HTTP /api/*), operators on the
admin port (/admin/*, /metrics, /dashboard). Every option is also an environment
variable and a key of the --config file.`,
  HUB_OPTIONS,
);

/** Turns flag or env text into the type the key's default has. */
function coerce(key: ConfigKey, text: string, source: string): unknown {
  const def = defaultOf(key);
  if (typeof def === 'number') {
    const n = text.trim() === '' ? Number.NaN : Number(text);
    if (Number.isNaN(n)) throw new UsageError(`${source}: "${text}" is not a number`);
    return n;
  }
  if (typeof def !== 'object') return text;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source}: not valid JSON (${(err as Error).message})`);
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  const raw = readJsonObject(file, { label: `config file ${file}`, error: UsageError });
  const unknown = Object.keys(raw).filter((k) => !Object.hasOwn(ConfigSchema.entries, k));
  if (unknown.length) {
    throw new UsageError(
      `config file ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (keys are camelCase, e.g. "adminPort"; see --help)`,
    );
  }
  return raw;
}

/**
 * Defaults ← config file (`--config`/AGENTCOM_CONFIG) ← env ← flags, the env
 * read through HUB_OPTIONS (`PORT` below AGENTCOM_PORT, as the original hub
 * read it). Validated once here; the rest of the hub trusts the result.
 * Anything wrong is a `UsageError` naming the flag, variable or file.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const given = parseCliGiven(HUB_OPTIONS, argv, env);
  const file = given.config?.value as string | undefined;
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};
  for (const k of Object.keys(ConfigSchema.entries) as ConfigKey[]) {
    const g = given[kebab(k)];
    if (g) raw[k] = coerce(k, g.value as string, g.from);
  }
  const r = v.safeParse(ConfigSchema, raw);
  if (!r.success) {
    const msg = r.issues.map((i) => {
      const key = i.path?.map((p) => (p as { key: string }).key).join('.') ?? '';
      const top = key.split('.')[0] as ConfigKey;
      return `--${kebab(top)}${key.includes('.') ? ` (${key})` : ''} (${envName(top)}): ${i.message}`;
    });
    throw new UsageError(`invalid configuration: ${msg.join('; ')}`);
  }
  return r.output;
}
