import { parseArgs } from 'node:util';

/**
 * One command-line option: the single source of its flag, its environment
 * variable, its default and its help line. The hub, `restore`, `import` and
 * the bench each keep one table of these; parsing and `--help` come from it.
 */
export interface CliOption {
  /** the flag without dashes, kebab-case */
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** may be given more than once (the value is then a list) */
  multiple?: boolean;
  /** the environment variable read when the flag is not given */
  env?: string;
  /** the default as shown in the help; none when the option has no default */
  default?: string;
  /** the value's placeholder in the help, e.g. `N` or `DIR` */
  value?: string;
  help: string;
  /** a heading the option is listed under */
  group?: string;
  /** the tool cannot run without it (flag or env) */
  required?: boolean;
}

/** `-h`/`--help`, in every tool's table. */
export const HELP_OPTION: CliOption = { name: 'help', short: 'h', type: 'boolean', help: 'this text' };

export type CliValues = Record<string, string | string[] | boolean | undefined>;

/** A command line the tool cannot run with: one line to stderr, exit 2. */
export class UsageError extends Error {}

/**
 * The flags given in `argv`, each by its option name (unknown flags, missing
 * values and positional arguments are a `UsageError`), then each option not
 * given as a flag from its environment variable. Values stay text; the tool
 * converts and checks them.
 */
export function parseCli(options: readonly CliOption[], argv: string[], env: NodeJS.ProcessEnv = {}): CliValues {
  const byName = new Map(options.map((o) => [o.name, o]));
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      options.map((o) => [
        o.name,
        { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const out: CliValues = {};
  for (const t of tokens) {
    if (t.kind === 'positional') throw new UsageError(`unexpected argument "${t.value}" (see --help)`);
    if (t.kind !== 'option') continue;
    const o = byName.get(t.name);
    if (!o) throw new UsageError(`unknown flag ${t.rawName} (see --help)`);
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`--${o.name} takes no value`);
      out[o.name] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`--${o.name} needs a value`);
    if (o.multiple) out[o.name] = [...((out[o.name] as string[] | undefined) ?? []), t.value];
    else out[o.name] = t.value;
  }
  for (const o of options) {
    const e = o.env ? env[o.env] : undefined;
    if (out[o.name] !== undefined || e === undefined) continue;
    out[o.name] = o.type === 'boolean' ? e === 'true' || e === '1' : o.multiple ? [e] : e;
  }
  const missing = options.find((o) => o.required && out[o.name] === undefined);
  if (missing) throw new UsageError(`--${missing.name} is required (see --help)`);
  return out;
}

/** True when `argv` asks for help (`--help` or `-h`), whatever else it holds. */
export function wantsHelp(argv: string[]): boolean {
  const { tokens } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return tokens.some((t) => t.kind === 'option' && t.name === 'help');
}

const FLAG_WIDTH = 34;
const LINE_WIDTH = 110;

/** Words into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

function optionLines(o: CliOption): string[] {
  const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  const pad = ' '.repeat(FLAG_WIDTH);
  const help = wrap(`${o.help}${o.required ? ' (required)' : ''}`, LINE_WIDTH - FLAG_WIDTH).map((l) => pad + l);
  const where = [o.env && `env ${o.env}`, o.default !== undefined && `default ${o.default}`].filter(Boolean);
  if (where.length) help.push(`${pad}${where.join(' · ')}`);
  if (flag.length > FLAG_WIDTH - 3) return [`  ${flag}`, ...help];
  return [`  ${flag.padEnd(FLAG_WIDTH - 3)} ${help[0].slice(FLAG_WIDTH)}`, ...help.slice(1)];
}

/** `--help` text: the usage line, what the tool does, then every option with its env name and default, by group. */
export function helpText(usage: string, about: string, options: readonly CliOption[]): string {
  const groups = new Map<string, CliOption[]>();
  for (const o of options) {
    const g = o.group ?? 'Options';
    groups.set(g, [...(groups.get(g) ?? []), o]);
  }
  const sections = [...groups].map(([g, os]) => [`${g}:`, ...os.flatMap(optionLines)].join('\n'));
  return `Usage: ${usage}\n\n${about.trim()}\n\n${sections.join('\n\n')}\n`;
}
