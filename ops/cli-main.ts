import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliOption, type CliValues, HELP_OPTION, helpText, parseCli, runCommand } from '../shared/cli.js';

/** `--from` (required) and `--data` of the offline commands (restore, import), then `--help`. */
export function fromAndData(from: Pick<CliOption, 'env' | 'help'>): CliOption[] {
  return [
    { name: 'from', type: 'string', value: 'DIR', required: true, ...from },
    { name: 'data', type: 'string', env: 'AGENTCOM_DATA', default: './data', value: 'DIR', help: 'the data directory' },
    HELP_OPTION,
  ];
}

export interface Tool {
  /** the command line, e.g. `npm run restore -- --from DIR [--data DIR]` */
  usage: string;
  about: string;
  options: CliOption[];
  /** does the work; resolves with the exit code */
  run(values: CliValues): Promise<number>;
}

/** True when the module at `url` is the script node was started with (not imported by a test). */
export function isMainModule(url: string): boolean {
  const script = process.argv[1];
  return !!script && resolve(script).replace(/\.ts$/, '.js') === fileURLToPath(url).replace(/\.ts$/, '.js');
}

/** An ops command's entry: `--help` from its option table, exit codes as `runCommand` sets them. */
export function runTool(tool: Tool, name: string): void {
  runCommand({
    name,
    failed: 'failed',
    help: helpText(tool.usage, tool.about, tool.options),
    run: (argv, env) => tool.run(parseCli(tool.options, argv, env)),
  });
}
