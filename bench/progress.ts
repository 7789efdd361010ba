import type { Progress } from './pool.js';
import type { PhaseReport } from './report.js';
import type { Ui } from './target.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Progress on stderr (stdout keeps the summary): a redrawn bar on a TTY,
 * a plain line every couple of seconds otherwise (CI logs, pipes).
 */
export function consoleUi(stream: NodeJS.WriteStream = process.stderr): Ui {
  const tty = Boolean(stream.isTTY);
  let head = '';
  let lastLine = 0;
  let drawn = false;
  const clear = () => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    status(text) {
      clear();
      stream.write(`• ${text}\n`);
    },
    phaseStart(target, label, seconds) {
      clear();
      head = `${target.padEnd(8)} ${label}`;
      stream.write(`▶ ${head} (${seconds} s)\n`);
      lastLine = 0;
    },
    progress(fraction, p: Progress, opsPerS) {
      const stats = `${fmt(opsPerS)} ops/s  acked ${fmt(p.acked)}  delivered ${fmt(p.delivered)}  errors ${fmt(p.errors)}`;
      if (tty) {
        const width = 24;
        const full = Math.round(fraction * width);
        const bar = `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
        stream.write(`\r\x1b[2K  ${bar}  ${stats}`);
        drawn = true;
      } else if (Date.now() - lastLine >= 2000) {
        lastLine = Date.now();
        stream.write(`  ${String(Math.round(fraction * 100)).padStart(3)}%  ${stats}\n`);
      }
    },
    phaseEnd(r: PhaseReport) {
      clear();
      const sat = r.generator.saturated ? '  [generator saturated]' : '';
      stream.write(`✓ ${head}: ${fmt(r.throughput.ops_per_s)} ops/s, ${r.counts.errors} errors${sat}\n`);
    },
  };
}

/** A Ui that prints nothing (tests). */
export const silentUi: Ui = { status() {}, phaseStart() {}, progress() {}, phaseEnd() {} };
