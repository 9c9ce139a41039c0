/**
 * Values a producer pushes (through callbacks: an engine's deltas, a run's events) as an async
 * iterable: each is yielded as it comes, in order; the iteration ends when `produce` resolves and
 * throws what it rejects with. Leaving the loop early (break, return, a throw) aborts `produce`'s
 * signal and waits for it to settle, so nothing runs on after its consumer is gone.
 */
export async function* pushIterable<T>(
  produce: (push: (value: T) => void, signal: AbortSignal) => Promise<void>,
): AsyncGenerator<T, void, undefined> {
  const stop = new AbortController();
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let outcome: { ok: true } | { ok: false; error: unknown } | undefined;
  const run = produce((value) => {
    queue.push(value);
    wake?.();
  }, stop.signal).then(
    () => void (outcome = { ok: true }),
    (error: unknown) => void (outcome = { ok: false, error }),
  );
  void run.then(() => wake?.());
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (outcome) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (!outcome.ok) throw outcome.error;
  } finally {
    // Whatever ended the loop, the producer ends with it (a no-op once it finished).
    stop.abort();
    await run;
  }
}
