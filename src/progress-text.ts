/** The pieces of a progress line shared by eval, rollouts and the SFT stages: bar, durations, ETA. */

/** `42s`, `3m07s`, `2h05m`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
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
  return eta === null || eta === 0 ? formatDuration(elapsedMs) : `${formatDuration(elapsedMs)}, ETA ${formatDuration(eta)}`;
}
