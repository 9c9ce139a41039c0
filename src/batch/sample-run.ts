/**
 * The loop every batch run shares (eval, rollouts, and SFT stage 2 through eval): resume from the
 * rows already stored, refuse a resume whose stored rows were made with other settings, run the
 * missing samples under a concurrency limit with a progress line, and stop cleanly on abort or on
 * the first failure, having stored what finished.
 */
import { runJobs } from './job-pool.js';
import type { ProgressBar } from './progress.js';
import type { SettingDifference } from './setting-differences.js';

/** A stored row whose sample this run would make differently. */
export interface StoredMismatch<J, R> {
  job: J;
  row: R;
  /** The file the row was read from. */
  file: string;
  differences: SettingDifference[];
}

export interface SampleRun<J, R> {
  /** Every sample of the run, in the order they are started. */
  jobs: readonly J[];
  jobKey: (job: J) => string;
  rowKey: (row: R) => string;
  /** The stores read on resume, in order: a row's first occurrence is the one kept. */
  stores: ReadonlyArray<{ readonly path: string; rows(): readonly R[] }>;
  /** How a stored row differs from what this run would make of its job (empty: it resumes). */
  differences: (row: R, job: J, file: string) => SettingDifference[];
  /** The error for stored rows made with other settings (each run words its own advice). */
  mismatch: (found: StoredMismatch<J, R>[]) => Error;
  /** Closes the stores; called once, whether the run completes, fails or is refused. */
  close: () => Promise<void>;
  /** Work before the first sample, on the rows resumed (e.g. finish groups stored incomplete). */
  start?: ((resumed: ReadonlyMap<string, R>) => Promise<void>) | undefined;
  /** Solve, grade and store one sample; false when the abort cut it short (nothing stored). */
  run: (job: J) => Promise<boolean>;
  concurrency: number;
  signal?: AbortSignal | undefined;
  /** How a failure names its sample: `eval stopped at gsm8k/17 sample 0 (parallel)`. */
  describe: (job: J) => string;
  progress: ProgressBar;
}

export interface SampleRunResult<R> {
  /** Rows found stored for this plan, by key. */
  resumed: ReadonlyMap<string, R>;
  /** Samples solved and stored in this call. */
  ran: number;
  /** The first failure (its sample named), after everything that finished was stored. */
  failure: Error | undefined;
  aborted: boolean;
}

/** Rows of the stores that belong to this plan, keyed; throws run.mismatch if any differs. */
function resume<J, R>(run: SampleRun<J, R>): Map<string, R> {
  const planned = new Map(run.jobs.map((j) => [run.jobKey(j), j]));
  const resumed = new Map<string, R>();
  const found: StoredMismatch<J, R>[] = [];
  for (const store of run.stores) {
    for (const row of store.rows()) {
      const key = run.rowKey(row);
      const job = planned.get(key);
      if (!job) continue; // another plan's row: kept in the file, not used here
      const differences = run.differences(row, job, store.path);
      if (differences.length) found.push({ job, row, file: store.path, differences });
      if (!resumed.has(key)) resumed.set(key, row);
    }
  }
  if (found.length) throw run.mismatch(found);
  return resumed;
}

/** Run (or resume) a batch run's samples; see SampleRun. */
export async function runSampleLoop<J, R>(run: SampleRun<J, R>): Promise<SampleRunResult<R>> {
  let resumed: Map<string, R>;
  try {
    resumed = resume(run);
  } catch (err) {
    await run.close();
    throw err;
  }
  let failure: Error | undefined;
  let ran = 0;
  try {
    try {
      await run.start?.(resumed);
    } catch (err) {
      failure = err as Error;
    }
    const todo = run.jobs.filter((j) => !resumed.has(run.jobKey(j)));
    failure = await runJobs(
      todo,
      run.concurrency,
      async (job) => {
        if (await run.run(job)) ran++;
      },
      { signal: run.signal, describe: run.describe, failure },
    );
  } finally {
    run.progress.finish();
    await run.close();
  }
  return { resumed, ran, failure, aborted: run.signal?.aborted === true };
}
