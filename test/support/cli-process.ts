import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

/** The built CLI (the global setup rebuilds dist/ when a source is newer). */
export const cliPath = path.join(repoRoot, 'dist/src/cli/main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether SIGINT was sent. */
  interrupted: boolean;
}

/**
 * Run `threadweaver ARGS` in a child process. With `interruptWhen`, SIGINT is sent once it first
 * holds (checked on output and every 50 ms), as Ctrl-C would; a run still going after `timeoutMs`
 * is killed so that a hang fails the test instead of stalling it.
 */
export function runCli(
  args: string[],
  o: {
    interruptWhen?: (out: { stdout: string; stderr: string }) => boolean;
    env?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const run: CliRun = { code: null, signal: null, stdout: '', stderr: '', interrupted: false };
    const check = () => {
      if (!o.interruptWhen || run.interrupted || child.exitCode !== null) return;
      if (o.interruptWhen(run)) {
        run.interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', (d) => ((run.stdout += d), check()));
    child.stderr.on('data', (d) => ((run.stderr += d), check()));
    const poll = setInterval(check, 50);
    const guard = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ ...run, code, signal });
    });
  });
}

/** Complete lines of a JSONL file (0 when it does not exist yet), each parsed: a torn line throws. */
export function jsonlRows(file: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** How many complete lines a file has so far (a line still being written has no newline yet). */
export function completeLines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}
