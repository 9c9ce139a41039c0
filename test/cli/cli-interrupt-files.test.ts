import { execFileSync } from 'node:child_process';
import { createWriteStream, readdirSync, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRollouts } from '../../rl/rollout.js';
import { runCli } from '../support/cli-process.js';
import { scriptedSolve, toyDataset, toyEngine, type ScriptedLog } from '../support/rl-scripted.js';

// Ctrl-C to the commands that write one file whole (export, trie): they stop, say so, exit 130 and
// leave neither the output nor a half-written file; the same command run again writes it. The
// input is a named pipe the test feeds, so the command is interrupted mid-read every time, however
// fast the machine.

let dir: string;
let rollouts: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-sigint-files-'));
  rollouts = path.join(dir, 'rollouts.jsonl');
  const log: ScriptedLog[] = [];
  await runRollouts({
    dataset: toyDataset,
    group: 4,
    out: rollouts,
    engine: toyEngine,
    solve: scriptedSolve(log),
    seedBase: 3,
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A named pipe, and a writer that resolves once a reader has opened it (the command is reading). */
function pipe(name: string): { file: string; opened: Promise<WriteStream> } {
  const file = path.join(dir, name);
  execFileSync('mkfifo', [file]);
  const writer = createWriteStream(file);
  return {
    file,
    opened: new Promise((resolve, reject) => writer.once('open', () => resolve(writer)).once('error', reject)),
  };
}

/** Files beside `out` that start with its name: the output or a partial one. */
const leftovers = (out: string) => readdirSync(path.dirname(out)).filter((n) => n.startsWith(path.basename(out)));

describe.skipIf(process.platform === 'win32')('SIGINT to a command that writes its output whole', () => {
  for (const c of [
    {
      command: 'export',
      args: (input: string, out: string) => ['export', '--input', input, '--format', 'sft', '--out', out],
      input: () => readFile(rollouts, 'utf8'),
    },
    {
      command: 'trie',
      args: (input: string, out: string) => ['trie', '--input', input, '--out', out],
      input: async () =>
        ['Compute 2*3 + 4*5.', 'Compute 7*8 - 9.']
          .map(
            (p) =>
              JSON.stringify({ prompt: `<|user|>${p}`, completion: '<think>\nFine.\n</think>\n\\boxed{1}' }) + '\n',
          )
          .join(''),
    },
  ]) {
    it(`${c.command}: stops mid-read, writes nothing; the rerun writes the whole file`, async () => {
      const text = await c.input();
      const lines = text.split('\n').filter(Boolean);
      const { file, opened } = pipe(`${c.command}.fifo`);
      const out = path.join(dir, `${c.command}-out.jsonl`);
      let fed = false;
      void opened.then((writer) => writer.write(lines[0] + '\n', () => (fed = true)));
      // After Ctrl-C the input keeps coming (the command must not take its end for a finished
      // read), then ends: a read blocked on a pipe holds the process until its writer closes.
      const feeding = opened.then(async (writer) => {
        while (!fed) await sleep(20);
        for (let i = 0; i < 40; i++) {
          await sleep(50);
          writer.write(lines[i % lines.length] + '\n');
        }
        writer.end();
      });
      const run = await runCli(c.args(file, out), { interruptWhen: () => fed, timeoutMs: 60_000 });
      await feeding;
      expect(run.interrupted).toBe(true);
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain(`threadweaver ${c.command}: interrupted; ${out} was not written`);
      expect(leftovers(out)).toEqual([]);

      const whole = path.join(dir, `${c.command}-input.jsonl`);
      await writeFile(whole, text);
      const again = await runCli(c.args(whole, out));
      expect(again.code, again.stderr).toBe(0);
      expect((await readFile(out, 'utf8')).split('\n').filter(Boolean)).toHaveLength(lines.length);
    });
  }
});
