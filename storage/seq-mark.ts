import { readFileSync } from 'node:fs';
import { writeJsonWhole } from '../shared/json-file.js';

/**
 * The messaging seq's high-water mark, kept in `data/seq-hwm.json`, outside
 * every restorable environment (PROTOCOL.md §9.31). `reserved` is always at
 * least every seq ever handed out: a block is reserved (written and synced)
 * before a seq past the old mark is used. `clean_seq` is written at a clean
 * close and cleared at open: a start that finds it equal to the stored seq
 * continues there; any other start (after kill -9, a restore, a file rolled
 * back) continues above `reserved`, so a seq is never reused.
 */
interface SeqMarkFile {
  reserved: number;
  clean_seq?: number;
}

/** Seqs reserved per synced write: one small fsync per million messages. */
export const SEQ_BLOCK = 1 << 20;

export function readSeqMark(file: string): SeqMarkFile {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as SeqMarkFile;
    return {
      reserved: Number(m.reserved) || 0,
      ...(typeof m.clean_seq === 'number' ? { clean_seq: m.clean_seq } : {}),
    };
  } catch {
    return { reserved: 0 };
  }
}

/** Atomic and durable (see `writeJsonWhole`). */
export function writeSeqMark(file: string, mark: SeqMarkFile): void {
  writeJsonWhole(file, mark);
}

/**
 * After a restore: the data's seq may be behind what was handed out, so the
 * next start must continue above everything issued. `liveSeq` is the stored
 * seq of the environment being replaced, when it could be read.
 */
export function markSeqRestored(file: string, liveSeq: number): void {
  const m = readSeqMark(file);
  writeSeqMark(file, { reserved: Math.max(m.reserved, liveSeq) });
}

export class SeqReservation {
  private reserved: number;

  constructor(private readonly file: string) {
    this.reserved = readSeqMark(file).reserved;
  }

  /**
   * The seq to continue from, given the environment's stored seq. `known` is
   * the last seq this process handed out, when it reopens an environment
   * (after a compaction or an online restore): exact, so no jump is needed.
   */
  start(stored: number, known?: number): number {
    const mark = readSeqMark(this.file);
    this.reserved = Math.max(this.reserved, mark.reserved);
    let seq: number;
    if (known !== undefined) seq = Math.max(stored, known);
    else if (mark.clean_seq === stored) seq = stored;
    else seq = Math.max(stored, this.reserved);
    this.reserved = Math.max(this.reserved, seq);
    writeSeqMark(this.file, { reserved: this.reserved });
    return seq;
  }

  /** Called before `seq` is handed out: past the mark, a new block is reserved durably first. */
  cover(seq: number): void {
    if (seq <= this.reserved) return;
    this.reserved = seq + SEQ_BLOCK;
    writeSeqMark(this.file, { reserved: this.reserved });
  }

  /** A clean close: the next start may continue at exactly `seq`. */
  close(seq: number): void {
    writeSeqMark(this.file, { reserved: Math.max(this.reserved, seq), clean_seq: seq });
  }
}
