import { parseArgs } from 'node:util';
import { OperatorError } from './errors.js';

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
  /** an older variable read when neither the flag nor `env` is set; kept out of the help */
  legacyEnv?: string;
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

/** A given value and where it came from (`--flag` or the variable's name), so a tool's messages can name it. */
export interface CliGiven {
  value: string | string[] | boolean;
  from: string;
}

/** A command line the tool cannot run with: one line to stderr, exit 2. */
export class UsageError extends Error {}

/**
 * The flags given in `argv`, each by its option name (unknown flags, missing
 * values and positional arguments are a `UsageError`), then each option not
 * given as a flag from its environment variable. Values stay text; the tool
 * converts and checks them.
 */
export function parseCliGiven(
  options: readonly CliOption[],
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Record<string, CliGiven> {
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
  const out: Record<string, CliGiven> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') throw new UsageError(`unexpected argument "${t.value}" (see --help)`);
    if (t.kind !== 'option') continue;
    const o = byName.get(t.name);
    if (!o) throw new UsageError(`unknown flag ${t.rawName} (see --help)`);
    const from = `--${o.name}`;
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`${from} takes no value`);
      out[o.name] = { value: true, from };
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${from} needs a value`);
    const before = o.multiple ? ((out[o.name]?.value as string[] | undefined) ?? []) : null;
    out[o.name] = { value: before ? [...before, t.value] : t.value, from };
  }
  for (const o of options) {
    // an empty legacy variable is unset, as the original hub read it
    const from = [o.env, o.legacyEnv].find(
      (n) => n !== undefined && env[n] !== undefined && (n === o.env || env[n] !== ''),
    );
    if (out[o.name] || !from) continue;
    const e = env[from] as string;
    out[o.name] = { value: o.type === 'boolean' ? e === 'true' || e === '1' : o.multiple ? [e] : e, from };
  }
  const missing = options.find((o) => o.required && !out[o.name]);
  if (missing) throw new UsageError(`--${missing.name} is required (see --help)`);
  return out;
}

/** `parseCliGiven` without the sources: each option's value by its name. */
export function parseCli(options: readonly CliOption[], argv: string[], env: NodeJS.ProcessEnv = {}): CliValues {
  return Object.fromEntries(Object.entries(parseCliGiven(options, argv, env)).map(([k, g]) => [k, g.value]));
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

/** A command's entry: its name (each stderr line starts with it), its `--help` text and its work. */
export interface Command {
  name: string;
  /** how a failure of `run` reads after the name, e.g. `failed` or `failed to start` */
  failed: string;
  help: string;
  /** checks the command line and does the work; resolves with the exit code, or null to keep running (a server) */
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number | null>;
}

/**
 * Runs `command` on this process's command line: `--help`/`-h` prints its
 * help; a `UsageError` is one line and exit 2; an operator's problem (an
 * `OperatorError`, a system error such as a taken port) one line and exit 1,
 * since a stack would only bury it; a bug its stack and exit 1.
 */
export function runCommand(command: Command): void {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    process.stdout.write(command.help);
    return;
  }
  const { name } = command;
  Promise.resolve()
    .then(() => command.run(argv, process.env))
    .then(
      (code) => {
        if (code !== null) process.exit(code);
      },
      (err) => {
        if (err instanceof UsageError) {
          process.stderr.write(`${name}: ${err.message}\n`);
          process.exit(2);
        }
        const oneLine =
          err instanceof OperatorError ||
          (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string');
        const text = oneLine ? err.message : err instanceof Error ? err.stack : String(err);
        process.stderr.write(`${name} ${command.failed}: ${text}\n`);
        process.exit(1);
      },
    );
}
