import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { htmlReport } from './html.js';
import { FeatureMissingError } from './http.js';
import { HELP, parseArgs, UsageError } from './options.js';
import { consoleUi } from './progress.js';
import { runBench } from './run.js';
import { summaryText } from './summary.js';

/** `npm run bench -- --scenario <name> […]`: exit 0 when every phase is ok, 1 when not, 2 on usage or a missing hub feature. */
async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const report = await runBench(opts, consoleUi(), argv);
    process.stdout.write(`\n${summaryText(report)}\n`);
    const write = (file: string, text: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      process.stderr.write(`wrote ${file}\n`);
    };
    if (opts.json) write(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    if (opts.html) write(opts.html, htmlReport(report));
    return report.phases.every((p) => p.ok) ? 0 : 1;
  } catch (err) {
    if (err instanceof FeatureMissingError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
