import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CliOption,
  type CliValues,
  HELP_OPTION,
  helpText,
  parseCli,
  UsageError,
  wantsHelp,
} from '../shared/cli.js';
import { OperatorError } from '../shared/errors.js';

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

/**
 * An ops command's entry: `--help`/`-h` prints the text made from its option
 * table; a bad command line is one line and exit 2; an operator's problem (a
 * held data directory, a missing file) one line and exit 1; a bug its stack.
 */
export function runTool(tool: Tool, name: string): void {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    process.stdout.write(helpText(tool.usage, tool.about, tool.options));
    return;
  }
  let values: CliValues;
  try {
    values = parseCli(tool.options, argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(2);
  }
  tool.run(values).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(2);
      }
      const oneLine = err instanceof OperatorError || (err instanceof Error && 'code' in err);
      process.stderr.write(
        `${name} failed: ${oneLine ? err.message : err instanceof Error ? err.stack : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
