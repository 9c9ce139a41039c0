/** The progress bar of the SFT stages on stderr: redrawn in place on a TTY, else a line every N items. */
import { etaMs, formatBar, formatTiming } from '../progress-text.js';

export interface ProgressBar {
  /** `done` of the total, plus short `key value` notes. */
  update(done: number, notes: readonly string[]): void;
  /** A line of its own above the bar (e.g. why an item failed). */
  say(line: string): void;
  finish(): void;
}

export function formatProgressBar(label: string, done: number, total: number, notes: readonly string[], elapsedMs: number, width = 24): string {
  return [`${label} ${formatBar(done, total, width)}`, ...notes, formatTiming(elapsedMs, etaMs(done, total - done, elapsedMs))].join(' | ');
}

export function progressBar(label: string, total: number, stream: (NodeJS.WritableStream & { isTTY?: boolean }) | false, every = Math.max(1, Math.ceil(total / 20))): ProgressBar {
  const started = Date.now();
  let last: string | undefined;
  let printedAt = -1;
  let lastDone = 0;
  return {
    update(done, notes) {
      if (!stream) return;
      last = formatProgressBar(label, done, total, notes, Date.now() - started);
      lastDone = done;
      if (stream.isTTY) stream.write(`\r${last}\x1b[K`);
      else if (printedAt < 0 || done === total || done - printedAt >= every) {
        stream.write(last + '\n');
        printedAt = done;
      }
    },
    say(line) {
      if (!stream) return;
      // On a TTY the bar is redrawn below the line.
      if (stream.isTTY) stream.write(`\r\x1b[K${line}\n${last ?? ''}`);
      else stream.write(line + '\n');
    },
    finish() {
      if (!stream || last === undefined) return;
      if (stream.isTTY) stream.write('\n');
      else if (printedAt !== lastDone) stream.write(last + '\n');
    },
  };
}
