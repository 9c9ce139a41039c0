/** "Did you mean …?" for mistyped command names. */
import { editDistance } from '../internal/edit-distance.js';

/**
 * The candidate nearest to `input`, when it is near enough to be a typo (at most a third of its
 * letters wrong, or `input` is its prefix); undefined otherwise.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => input.length >= 2 && c.startsWith(input.toLowerCase()));
  if (prefixed.length === 1) return prefixed[0];
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(input, c);
    if (!best || d < best.d) best = { name: c, d };
  }
  return best && best.d <= Math.max(1, Math.floor(best.name.length / 3)) ? best.name : undefined;
}
