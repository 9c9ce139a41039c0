/**
 * Detects stop strings in a growing completion. Single-token stops are matched by id (exact and
 * cheap); the rest by text, looking only at the tail the newest piece could have completed.
 */
export class StopMatcher {
  private readonly stopIds = new Map<number, string>();
  private readonly textStops: string[] = [];
  private readonly maxLen: number;
  private text = '';

  constructor(stops: readonly string[], singleTokenId: (s: string) => number | undefined) {
    for (const s of stops) {
      if (!s) continue;
      const id = singleTokenId(s);
      if (id !== undefined) this.stopIds.set(id, s);
      else this.textStops.push(s);
    }
    this.maxLen = Math.max(0, ...this.textStops.map((s) => s.length));
  }

  /** Feed one generated token; returns the matched stop string, if any. */
  push(id: number, piece: string): string | undefined {
    const byId = this.stopIds.get(id);
    if (byId !== undefined) return byId;
    if (this.textStops.length === 0) return undefined;
    this.text += piece;
    const tail = this.text.slice(-(this.maxLen + piece.length));
    for (const s of this.textStops) if (tail.includes(s)) return s;
    // Keep only what a future match could still need.
    if (this.text.length > 4 * this.maxLen + 64) this.text = this.text.slice(-this.maxLen);
    return undefined;
  }
}
