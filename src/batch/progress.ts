/**
 * The progress line on stderr shared by eval, rollouts and the SFT stages: its pieces (bar,
 * durations, ETA) and the writer that redraws it in place on a TTY, else prints it every N items.
 */

/** `42s`, `3m07s`, `2h05m`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `[######------] 12/24` for `done` of `total`. */
export function formatBar(done: number, total: number, width = 24): string {
  const frac = total ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/**
 * Time left at the pace of the items finished in this run (`ran` of them in `elapsedMs`; items
 * found done at the start do not count), or null before the first one.
 */
export function etaMs(ran: number, remaining: number, elapsedMs: number): number | null {
  if (remaining <= 0) return 0;
  return ran > 0 ? (elapsedMs / ran) * remaining : null;
}

/** `elapsed 1m02s, ETA 3m10s` (the ETA left out when unknown or nothing is left). */
export function formatTiming(elapsedMs: number, eta: number | null): string {
  return eta === null || eta === 0
    ? formatDuration(elapsedMs)
    : `${formatDuration(elapsedMs)}, ETA ${formatDuration(eta)}`;
}

export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface ProgressLine {
  /** Show `text`, the state after `done` of `total` items. */
  update(text: string, done: number, total: number): void;
  /** A line of its own above the progress line (e.g. why an item failed). */
  say(line: string): void;
  /** End the line (a TTY's redrawn line gets its newline; elsewhere the last state is printed once). */
  finish(): void;
}

/**
 * A progress line on `stream` (none when false). On a TTY it is redrawn in place; elsewhere a
 * line is printed at the first update, every `every` items and at the last.
 */
function progressLine(stream: ProgressStream | false, every: number): ProgressLine {
  const tty = stream !== false && stream.isTTY === true;
  let last: { text: string; done: number } | undefined;
  let printed = -1;
  return {
    update(text, done, total) {
      if (!stream) return;
      last = { text, done };
      if (tty) stream.write(`\r${text}\x1b[K`);
      else if (printed < 0 || done === total || done - printed >= every) {
        stream.write(text + '\n');
        printed = done;
      }
    },
    say(line) {
      if (!stream) return;
      if (tty) stream.write(`\r\x1b[K${line}\n${last?.text ?? ''}`);
      else stream.write(line + '\n');
    },
    finish() {
      if (!stream || !last) return;
      if (tty) stream.write('\n');
      else if (printed !== last.done) stream.write(last.text + '\n');
    },
  };
}

/** How a progress bar is drawn. */
export interface ProgressBarStyle {
  /** Bar width in characters. Default 24. */
  width?: number | undefined;
  /** Items done before this run (the ETA is at the pace of the others). Default 0. */
  resumed?: number | undefined;
  /** Show the percentage after the count. Default false. */
  percent?: boolean | undefined;
}

/**
 * `label [####----] 3/12 | note | note | 6s, ETA 18s` (no label when it is empty; `3/12 25%` with
 * `percent`); the ETA is at the pace of the items done after the first `resumed`.
 */
export function formatProgressBar(
  label: string,
  done: number,
  total: number,
  notes: readonly string[],
  elapsedMs: number,
  style: ProgressBarStyle = {},
): string {
  const { width = 24, resumed = 0, percent = false } = style;
  const bar = formatBar(done, total, width) + (percent ? ` ${((total ? done / total : 1) * 100).toFixed(0)}%` : '');
  return [
    label ? `${label} ${bar}` : bar,
    ...notes,
    formatTiming(elapsedMs, etaMs(done - resumed, total - done, elapsedMs)),
  ].join(' | ');
}

export interface ProgressBar {
  /** `done` of the total, plus short `key value` notes. */
  update(done: number, notes: readonly string[]): void;
  /** A line of its own above the bar (e.g. why an item failed). */
  say(line: string): void;
  finish(): void;
}

/**
 * The progress line of a batch run (formatProgressBar) on `stream`: redrawn in place on a TTY,
 * elsewhere printed at the first update, every `every` items and at the last.
 */
export function progressBar(
  label: string,
  total: number,
  stream: ProgressStream | false,
  options: ProgressBarStyle & { every?: number | undefined } = {},
): ProgressBar {
  const started = Date.now();
  const line = progressLine(stream, options.every ?? Math.max(1, Math.ceil(total / 20)));
  return {
    update: (done, notes) =>
      line.update(formatProgressBar(label, done, total, notes, Date.now() - started, options), done, total),
    say: (text) => line.say(text),
    finish: () => line.finish(),
  };
}
