import { createHash } from 'node:crypto';
import path from 'node:path';

/**
 * The affinity key of one sample of a batch run (see CallAffinity): the same whenever the run is
 * resumed, different for every other sample of the run and for any other run. `run` names the
 * run (`runName`), `sample` is the run's own key of the sample: the key of its row (dataset,
 * problem, sample index, mode, and a sweep point where there is one).
 */
export function sampleAffinityKey(run: string, sample: string): string {
  return `tw-${createHash('sha256')
    .update(JSON.stringify([run, sample]))
    .digest('hex')
    .slice(0, 32)}`;
}

/** A run's name for its keys: where it is written (a resumed run writes to the same place). */
export function runName(out: string): string {
  return path.resolve(out);
}
