/** The progress bar of the SFT stages on stderr: redrawn in place on a TTY, else a line every N items. */

export interface ProgressBar {
  /** `done` of the total, plus short `key value` notes. */
  update(done: number, notes: readonly string[]): void;
  /** A line of its own above the bar (e.g. why an item failed). */
  say(line: string): void;
  finish(): void;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function formatBar(label: string, done: number, total: number, notes: readonly string[], elapsedMs: number, width = 24): string {
  const frac = total ? done / total : 1;
  const filled = Math.round(frac * width);
  return [`${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`, ...notes, duration(elapsedMs)].join(' | ');
}

export function progressBar(label: string, total: number, stream: (NodeJS.WritableStream & { isTTY?: boolean }) | false, every = Math.max(1, Math.ceil(total / 20))): ProgressBar {
  const started = Date.now();
  let last: string | undefined;
  let printedAt = -1;
  let lastDone = 0;
  return {
    update(done, notes) {
      if (!stream) return;
      last = formatBar(label, done, total, notes, Date.now() - started);
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
