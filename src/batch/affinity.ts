import { createHash } from 'node:crypto';
import path from 'node:path';

/** Which sample of a batch run a key names. */
export interface SampleIdentity {
  dataset: string;
  problemId: string;
  sample: number;
  mode: string;
}

/**
 * The affinity key of one sample of a batch run (see CallAffinity): the same whenever the run is
 * resumed, different for every other sample, problem, mode or run. `run` names the run: its
 * output, as `runName` gives it.
 */
export function sampleAffinityKey(run: string, s: SampleIdentity): string {
  const digest = createHash('sha256').update(JSON.stringify([run, s.dataset, s.problemId, s.sample, s.mode]));
  return `tw-${digest.digest('hex').slice(0, 32)}`;
}

/** A run's name for its keys: where it is written (a resumed run writes to the same place). */
export function runName(out: string): string {
  return path.resolve(out);
}
