import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportRollouts,
  rlExportRows,
  sftExportRow,
  trieExportRow,
  type RlExportRow,
  type SftExportRow,
} from '../../rl/export.js';
import { readRollouts, rolloutUid, type RolloutRow } from '../../rl/rollout-row.js';
import { pendingFile, runRollouts } from '../../rl/rollout.js';
import exportCommand from '../../src/cli/commands/export.js';
import { UsageError } from '../../src/cli/command.js';
import { loadPrompt } from '../../src/orchestrator/prompt.js';
import { sftLayout } from '../../src/trie/index.js';
import type { Tokenizer } from '../../src/engine/types.js';
import { behaviourOf, scriptedSolve, toyDataset, toyEngine, type ScriptedLog } from '../support/rl-scripted.js';

let dir: string;
let input: string;
let rows: RolloutRow[];
const log: ScriptedLog[] = [];
const tokenizer: Tokenizer = toyEngine.tokenizer;

const jsonl = async <T>(file: string): Promise<T[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-export-'));
  input = path.join(dir, 'rollouts.jsonl');
  await runRollouts({
    dataset: toyDataset,
    group: 4,
    out: input,
    engine: toyEngine,
    solve: scriptedSolve(log),
    seedBase: 3,
  });
  rows = await readRollouts(input);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const engineOf = (r: RolloutRow) =>
  log.find((l) => l.options.problemId === r.problemId && l.options.sample === r.sample)!.engine;

describe('rl rows', () => {
  it('one row per call: context + completion are the tokens of that engine call, EOS kept', () => {
    for (const r of rows) {
      const out = rlExportRows(r);
      const engine = engineOf(r);
      expect(out).toHaveLength(engine.requests.length);
      out.forEach((x, i) => {
        expect(x.prompt_ids).toEqual(tokenizer.encode(engine.requests[i]!.context));
        const generated = tokenizer.encode(r.calls[i]!.text);
        expect(x.response_ids).toEqual(x.finish_reason === 'eos' ? [...generated, r.eosId] : generated);
        expect(x.call).toBe(i);
      });
      // The last call ends the trajectory on EOS.
      expect(out.at(-1)!.finish_reason).toBe('eos');
      expect(out.at(-1)!.response_ids.at(-1)).toBe(2);
      const threads = out.filter((x) => x.role === 'thread');
      expect(threads).toHaveLength(r.threads);
      for (const t of threads) {
        expect(tokenizer.decode(t.prompt_ids).endsWith(`\n<Thread>\n${t.thread}:`)).toBe(true);
        expect(t.block).toBe(0);
      }
    }
  });

  it('one advantage per trajectory, broadcast to all its calls', () => {
    const all = rows.flatMap(rlExportRows);
    const byTrajectory = new Map<string, RlExportRow[]>();
    for (const x of all) byTrajectory.set(x.trajectory, [...(byTrajectory.get(x.trajectory) ?? []), x]);
    expect(byTrajectory.size).toBe(rows.length);
    for (const r of rows) {
      const mine = byTrajectory.get(rolloutUid(r))!;
      expect(mine.length).toBe(r.calls.length);
      expect(new Set(mine.map((x) => x.advantage))).toEqual(new Set([r.advantage]));
      expect(mine.every((x) => x.reward === r.reward && x.problem_id === r.problemId && x.correct === r.correct)).toBe(
        true,
      );
    }
    // Parallel trajectories have more calls, yet advantages still cancel per trajectory, not per call.
    for (const p of toyDataset.problems) {
      const perTrajectory = rows.filter((r) => r.problemId === p.id).map((r) => r.advantage!);
      expect(Math.abs(perTrajectory.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
    }
  });

  it('refuses rows without an advantage (a pending file)', () => {
    const { advantage: _, ...pending } = rows[0]!;
    expect(() => rlExportRows(pending as RolloutRow)).toThrow(/no advantage/);
  });
});

describe('sft and trie rows', () => {
  it('sft: the problem as the user turn and the whole trajectory as the assistant turn', () => {
    const r = rows[0]!;
    expect(sftExportRow(r)).toEqual({
      messages: [
        { role: 'user', content: r.problem },
        { role: 'assistant', content: r.text },
      ],
    });
    // Sequential mode adds the system message the model was trained with, as the prompt did.
    const seq = { ...r, mode: 'sequential' as const };
    expect(sftExportRow(seq).messages[0]).toEqual({ role: 'system', content: loadPrompt('sequential-system') });
    const instructed = { ...r, settings: { ...r.settings, promptStyle: 'instructed' as const } };
    expect(sftExportRow(instructed).messages[0]).toEqual({
      role: 'system',
      content: loadPrompt('instructed-parallel'),
    });
    // The chat template of the messages (without the answer) is the rollout's prompt.
    expect(tokenizer.applyChatTemplate(sftExportRow(r).messages.slice(0, -1), { addGenerationPrompt: true })).toBe(
      r.prompt,
    );
  });

  it('trie: the SFT layout of the prompt and the EOS-closed completion', () => {
    for (const r of rows) {
      const layout = trieExportRow(r, tokenizer);
      expect(layout).toEqual(sftLayout({ prompt: r.prompt, completion: r.text + '<|im_end|>' }, tokenizer));
      // The main path is exactly the rollout's tokens (prompt, completion, EOS).
      expect(layout.ids.slice(0, r.promptIds.length + r.ids.length + 1)).toEqual([...r.promptIds, ...r.ids, 2]);
      const branches = new Set(layout.branch).size - 1;
      expect(branches).toBe(r.threads > 1 ? r.threads - 1 : 0);
    }
  });

  it('trie: refuses a tokenizer that is not the rollout one', () => {
    const other = {
      encode: (t: string) => [...t].map((c) => c.codePointAt(0)!),
      decode: tokenizer.decode.bind(tokenizer),
    };
    expect(() => trieExportRow(rows[0]!, other)).toThrow(/encodes the prompt differently/);
  });
});

describe('exportRollouts and threadweaver export', () => {
  it('writes each format as JSONL that parses back to the same rows', async () => {
    const sft = path.join(dir, 'sft.jsonl');
    expect(await exportRollouts({ input, out: sft, format: 'sft' })).toEqual({ read: 12, exported: 12, rows: 12 });
    expect(await jsonl<SftExportRow>(sft)).toEqual(rows.map(sftExportRow));

    const rl = path.join(dir, 'rl.jsonl');
    const calls = rows.reduce((s, r) => s + r.calls.length, 0);
    expect(await exportRollouts({ input, out: rl, format: 'rl' })).toEqual({ read: 12, exported: 12, rows: calls });
    expect(await jsonl<RlExportRow>(rl)).toEqual(rows.flatMap(rlExportRows));

    const trie = path.join(dir, 'trie.jsonl');
    await exportRollouts({ input, out: trie, format: 'trie', tokenizer });
    expect(await jsonl(trie)).toEqual(rows.map((r) => trieExportRow(r, tokenizer)));
  });

  it('--only-correct keeps the correct trajectories', async () => {
    const out = path.join(dir, 'correct.jsonl');
    const correct = rows.filter((r) => r.correct);
    expect(correct.length).toBeLessThan(rows.length);
    expect(rows.some((r) => behaviourOf(r.seed) === 'wrong')).toBe(true);
    const r = await exportRollouts({ input, out, format: 'sft', onlyCorrect: true });
    expect(r).toEqual({ read: 12, exported: correct.length, rows: correct.length });
    expect(await jsonl<SftExportRow>(out)).toEqual(correct.map(sftExportRow));
  });

  it('a bad row names file:line and leaves no output', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    const out = path.join(dir, 'bad-out.jsonl');
    const { calls: _, ...noCalls } = rows[1]!;
    await writeFile(bad, `${JSON.stringify(rows[0])}\n\n${JSON.stringify(noCalls)}\n`);
    await expect(exportRollouts({ input: bad, out, format: 'sft' })).rejects.toThrow(`${bad}:3: field "calls"`);
    await writeFile(bad, `${JSON.stringify(rows[0])}\n{"oops\n`);
    await expect(exportRollouts({ input: bad, out, format: 'sft' })).rejects.toThrow(`${bad}:2: invalid JSON`);
    const wrongType = { ...rows[0], calls: [{ ...rows[0]!.calls[0], completionIds: ['a'] }] };
    await writeFile(bad, `${JSON.stringify(wrongType)}\n`);
    await expect(exportRollouts({ input: bad, out, format: 'rl' })).rejects.toThrow(
      `${bad}:1: field "calls.0.completionIds.0"`,
    );
    const { advantage: __, ...pending } = rows[0]!;
    await writeFile(bad, `${JSON.stringify(rows[0])}\n${JSON.stringify(pending)}\n`);
    await expect(exportRollouts({ input: bad, out, format: 'rl' })).rejects.toThrow(
      `${bad}:2: the row has no advantage`,
    );
    expect(existsSync(out)).toBe(false);
    // Nothing half-written is left beside it either.
    expect(readdirSync(path.dirname(out)).filter((n) => n.startsWith(path.basename(out)))).toEqual([]);
    await expect(exportRollouts({ input: path.join(dir, 'missing.jsonl'), out, format: 'sft' })).rejects.toThrow(
      /missing\.jsonl: no such file/,
    );
  });

  it('the command exports, and checks its flags', async () => {
    const out = path.join(dir, 'cli-rl.jsonl');
    expect(await exportCommand.run(['--input', input, '--format', 'rl', '--out', out])).toBe(0);
    expect(await jsonl<RlExportRow>(out)).toEqual(rows.flatMap(rlExportRows));
    await expect(exportCommand.run(['--input', input, '--format', 'dpo', '--out', out])).rejects.toThrow(UsageError);
    await expect(exportCommand.run(['--input', input, '--format', 'rl'])).rejects.toThrow(/--out: is required/);
    // The trie format loads the bundled tokenizer, whose prompt tokens differ from the scripted one.
    await expect(exportCommand.run(['--input', input, '--format', 'trie', '--out', out])).rejects.toThrow(
      `${input}:1: this tokenizer encodes the prompt differently`,
    );
    expect(existsSync(pendingFile(input))).toBe(false);
  });
});
