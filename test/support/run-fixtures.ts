import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './helpers.js';

// Small real runs made by the built CLI on the bundled model, for the viewer's tests.
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const run = promisify(execFile);

/** An eval run folder: `problems` arith problems, k samples, both modes. */
export async function makeEvalRun(out: string, problems = 3, k = 1): Promise<string> {
  await run(process.execPath, [
    cli,
    'eval',
    '--dataset',
    'arith',
    '--limit',
    String(problems),
    '--k',
    String(k),
    '--mode',
    'both',
    '--temperature',
    k > 1 ? '0.7' : '0',
    '--out',
    out,
  ]);
  return out;
}

/** A rollouts file: `problems` arith problems, groups of `group`. */
export async function makeRollouts(file: string, problems = 2, group = 2): Promise<string> {
  await run(process.execPath, [
    cli,
    'rollout',
    '--dataset',
    'arith',
    '--limit',
    String(problems),
    '--group',
    String(group),
    '--out',
    file,
  ]);
  return file;
}
