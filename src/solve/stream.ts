import type { ControllerEvent } from '../orchestrator/events.js';
import { pushIterable } from '../internal/push-iterable.js';
import { runSolve } from './solve.js';
import { type SolveOptions, type SolveResult } from './types.js';

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
export async function* solveStream(
  problem: string,
  options: SolveOptions = {},
): AsyncGenerator<SolveEvent, SolveResult, undefined> {
  let result: SolveResult | undefined;
  yield* pushIterable<ControllerEvent>(async (push, stop) => {
    const signal = options.signal ? AbortSignal.any([options.signal, stop]) : stop;
    result = await runSolve(problem, { ...options, signal }, push);
  });
  yield { type: 'result', result: result! };
  return result!;
}
