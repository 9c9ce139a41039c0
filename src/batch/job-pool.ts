import { ThreadweaverError } from '../errors.js';
/**
 * Run jobs in order with at most `concurrency` in flight. The first failure stops new jobs (those
 * in flight finish) and is returned wrapped with `describe(job)`; a job cut short by the abort
 * signal is not a failure. Shared by the eval runner and RL rollouts.
 */
export async function runJobs<J>(
  jobs: readonly J[],
  concurrency: number,
  run: (job: J) => Promise<void>,
  options: { signal?: AbortSignal | undefined; describe: (job: J) => string; failure?: Error | undefined },
): Promise<Error | undefined> {
  let failure = options.failure;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && options.signal?.aborted !== true && next < jobs.length) {
      const job = jobs[next++]!;
      try {
        await run(job);
      } catch (err) {
        if (options.signal?.aborted || (err instanceof Error && err.name === 'AbortError')) continue;
        failure ??= new ThreadweaverError(`${options.describe(job)}: ${(err as Error)?.message ?? String(err)}`, {
          cause: err,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return failure;
}
