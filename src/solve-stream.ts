import type { ControllerEvent } from './orchestrator/events.js';
import { runSolve, type SolveOptions, type SolveResult } from './solve.js';

/** What solveStream yields: every controller event as it happens, then the result. */
export type SolveEvent = ControllerEvent | { type: 'result'; result: SolveResult };

/**
 * `solve()` as an async iterable of tagged events, ending with `{ type: 'result' }`:
 *
 * ```ts
 * for await (const e of solveStream(problem)) if (e.type === 'thread:delta') draw(e.block, e.thread, e.text);
 * ```
 *
 * Leaving the loop early (break, return, a throw) aborts the run and waits for the engine to
 * stop. An engine failure is thrown from the loop (a SolveError, as solve() throws it). Listeners
 * in `options.on` are still called.
 */
export async function* solveStream(problem: string, options: SolveOptions = {}): AsyncGenerator<SolveEvent, SolveResult, undefined> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const queue: SolveEvent[] = [];
  let wake: (() => void) | undefined;
  const push = (e: SolveEvent) => {
    queue.push(e);
    wake?.();
  };
  let outcome: { result: SolveResult } | { error: unknown } | undefined;
  const run = runSolve(problem, { ...options, signal }, push).then(
    (result) => void (outcome = { result }),
    (error: unknown) => void (outcome = { error }),
  );
  void run.then(() => wake?.());
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (outcome) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if ('error' in outcome) throw outcome.error;
    yield { type: 'result', result: outcome.result };
    return outcome.result;
  } finally {
    // Whatever ended the loop, the run ends with it (a no-op once it finished).
    stop.abort();
    await run;
  }
}
