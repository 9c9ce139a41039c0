import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROMPT_FORMAT } from '../../src/orchestrator/prompt.js';
import {
  builtinPresets,
  loadPreset,
  parsePreset,
  presetSampling,
  presetsDir,
  resolvePreset,
} from '../../src/solve/preset.js';
import { threadweaver } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tw-presets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('shipped presets', () => {
  it('parse, and each is named after its file; tiny comes first', async () => {
    const files = (await readdir(presetsDir())).filter((f) => f.endsWith('.json'));
    const presets = builtinPresets();
    expect(presets.map((p) => `${p.name}.json`).sort()).toEqual(files.sort());
    expect(presets.map((p) => p.name)).toEqual(['tiny', 'qwen3-instructed', 'threadweaver-qwen3-8b']);
  });

  it("tiny is today's defaults: bundled model, bare problem, greedy, 0.6/0.95 for sampled evals, 1/1 rollouts", () => {
    const tiny = loadPreset();
    expect(tiny.name).toBe('tiny');
    expect(resolvePreset(tiny, 'solve').settings).toMatchObject({
      engine: 'embedded',
      tokenizer: null,
      prompt: DEFAULT_PROMPT_FORMAT,
      contextLength: null,
      maxTokens: null,
      temperature: 0,
      topP: 1,
    });
    expect(presetSampling(tiny, 'eval', 1)).toEqual({ temperature: 0, topP: 1 });
    expect(presetSampling(tiny, 'eval', 4)).toEqual({ temperature: 0.6, topP: 0.95 });
    expect(presetSampling(tiny, 'rollout')).toEqual({ temperature: 1, topP: 1 });
    expect(presetSampling(tiny, 'sft')).toEqual({ temperature: 0, topP: 1 });
  });

  it('threadweaver-qwen3-8b pins the reference settings', () => {
    const p = loadPreset('threadweaver-qwen3-8b');
    expect(p.prompt).toEqual({
      style: 'trained',
      suffix: " Let's think step by step and output the final answer within \\boxed{}.",
      sequentialSystem: false,
      chatTemplateKwargs: {},
    });
    expect(p.tokenizer.addedTokens).toEqual([
      '<Think>',
      '</Think>',
      '<Parallel>',
      '</Parallel>',
      '<Outlines>',
      '</Outlines>',
      '<Outline>',
      '</Outline>',
      '<Thread>',
      '</Thread>',
      '<Conclusion>',
      '</Conclusion>',
    ]);
    expect(p.stop).toEqual({ vendorParams: true, unreportedStop: 'eos' });
    expect(p.contextLength).toBe(40960);
    expect([presetSampling(p, 'eval', 1), presetSampling(p, 'eval', 16), presetSampling(p, 'rollout')]).toEqual([
      { temperature: 0.6, topP: 0.95 },
      { temperature: 0.6, topP: 0.95 },
      { temperature: 1, topP: 1 },
    ]);
  });

  it('qwen3-instructed: instructed style, enable_thinking, no added tokens', () => {
    const p = loadPreset('qwen3-instructed');
    expect(p.prompt.style).toBe('instructed');
    expect(p.prompt.chatTemplateKwargs).toEqual({ enable_thinking: true });
    expect(p.tokenizer.addedTokens).toEqual([]);
  });
});

describe('preset files and resolution', () => {
  it('a bad preset names every bad field', () => {
    const good = loadPreset('threadweaver-qwen3-8b');
    expect(() =>
      parsePreset(
        { ...good, contextLength: 1, sampling: { ...good.sampling, eval: { temperature: 0.6, topP: 2 } }, extra: 1 },
        'x.json',
      ),
    ).toThrow(/preset x\.json: .*contextLength: .*sampling\.eval\.topP: .*extra/);
    expect(() => parsePreset({ ...good, name: 'Bad Name' }, 'y.json')).toThrow(/name: lower-case/);
  });

  it('loads a file by path; unknown names list the shipped ones; missing and broken files are named', async () => {
    const file = path.join(dir, 'mine.json');
    await writeFile(
      file,
      JSON.stringify({ ...loadPreset('threadweaver-qwen3-8b'), name: 'mine', contextLength: 32768 }),
    );
    expect(loadPreset(file)).toMatchObject({ name: 'mine', contextLength: 32768 });
    expect(() => loadPreset('qwen9')).toThrow(
      "preset 'qwen9' not found; the shipped presets are tiny, qwen3-instructed, threadweaver-qwen3-8b",
    );
    expect(() => loadPreset(path.join(dir, 'none.json'))).toThrow(/none\.json: file not found/);
    await writeFile(path.join(dir, 'broken.json'), '{');
    expect(() => loadPreset(path.join(dir, 'broken.json'))).toThrow(/broken\.json: not valid JSON/);
  });

  it('explicit settings override the preset, and the record says which', () => {
    const r = resolvePreset(
      loadPreset('threadweaver-qwen3-8b'),
      'eval',
      { temperature: 0, maxTokens: 1000, promptStyle: 'instructed' },
      { file: 'p.json', samplesPerProblem: 4 },
    );
    expect(r).toMatchObject({
      name: 'threadweaver-qwen3-8b',
      file: 'p.json',
      use: 'eval',
      overridden: ['temperature', 'maxTokens', 'promptStyle'],
    });
    expect(r.settings).toMatchObject({ temperature: 0, topP: 0.95, maxTokens: 1000, contextLength: 40960 });
    expect(r.settings.prompt.style).toBe('instructed');
    expect(r.settings.prompt.suffix).toContain("Let's think");
  });
});

describe('threadweaver presets / --preset on the CLI', () => {
  it('lists the presets with their settings, and prints one as JSON', async () => {
    const list = await threadweaver('presets');
    expect(list.code).toBe(0);
    for (const name of ['tiny', 'threadweaver-qwen3-8b', 'qwen3-instructed']) expect(list.stdout).toContain(name);
    expect(list.stdout).toContain(
      'suffix " Let\'s think step by step and output the final answer within \\\\boxed{}."',
    );
    expect(list.stdout).toMatch(/eval T 0\.6 · top-p 0\.95 \(k=1: T 0 · top-p 1\)/);
    const one = await threadweaver('presets', 'threadweaver-qwen3-8b', '--json');
    expect(JSON.parse(one.stdout)).toEqual(
      JSON.parse(await readFile(path.join(presetsDir(), 'threadweaver-qwen3-8b.json'), 'utf8')),
    );
    const all = await threadweaver('presets', '--json');
    expect(JSON.parse(all.stdout).map((p: { name: string }) => p.name)).toEqual([
      'tiny',
      'qwen3-instructed',
      'threadweaver-qwen3-8b',
    ]);
  });

  it('bad presets and presets that need a server are usage errors', async () => {
    const unknown = await threadweaver('solve', '--preset', 'qwen9', 'x');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--preset: preset 'qwen9' not found; the shipped presets are tiny, /);
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ name: 'bad' }));
    const invalid = await threadweaver('eval', '--dataset', 'arith', '--preset', bad);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/bad\.json: description: .*engine: /);
    const noServer = await threadweaver('solve', '--preset', 'threadweaver-qwen3-8b', 'x');
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toMatch(
      /preset threadweaver-qwen3-8b is a model served by vLLM or SGLang: pass --base-url/,
    );
    const serve = await threadweaver('serve', '--preset', 'qwen3-instructed', '--port', '0');
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/serve runs a model in-process; preset qwen3-instructed/);
  });

  it('a preset tokenizer that cannot be loaded says to pass --tokenizer', async () => {
    const file = path.join(dir, 'unreachable.json');
    await writeFile(
      file,
      JSON.stringify({
        ...loadPreset('qwen3-instructed'),
        name: 'unreachable',
        tokenizer: { id: 'no-such-owner/no-such-tokenizer', addedTokens: [] },
      }),
    );
    const r = await threadweaver('prompt', '--preset', file, 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /preset unreachable: could not load its tokenizer 'no-such-owner\/no-such-tokenizer' \(.*\); offline, pass --tokenizer DIR/,
    );
  });

  it('eval records the preset in its rows and summary, and a rerun with another preset is refused', async () => {
    const out = path.join(dir, 'eval-run');
    const args = ['eval', '--dataset', 'arith', '--limit', '1', '--mode', 'parallel', '--out', out];
    const first = await threadweaver(...args);
    expect(first.code).toBe(0);
    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.config.preset).toMatchObject({ name: 'tiny', use: 'eval', settings: { temperature: 0, topP: 1 } });
    expect(summary.provenance.preset).toBe('tiny');
    const row = JSON.parse((await readFile(path.join(out, 'results.jsonl'), 'utf8')).split('\n')[0]!);
    expect(row.preset).toBe('tiny');
    const copy = path.join(dir, 'tiny-copy.json');
    await writeFile(copy, JSON.stringify({ ...loadPreset('tiny'), name: 'tiny-copy' }));
    const again = await threadweaver(...args, '--preset', copy);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /made with other settings: preset "tiny" \(this run: "tiny-copy"\) .*Use another --out folder/,
    );
  });

  it('--preset tiny is the run without a preset', async () => {
    const problem = 'Compute 37*24 + 18*53 - 29*11.';
    const [plain, tiny] = await Promise.all([
      threadweaver('solve', '--json', problem),
      threadweaver('solve', '--json', '--preset', 'tiny', problem),
    ]);
    const a = JSON.parse(plain.stdout);
    const b = JSON.parse(tiny.stdout);
    expect(a.preset).toBe('tiny');
    expect(b.text).toBe(a.text);
    expect(b.answer).toBe('1523');
    const seq = await threadweaver('prompt', '--mode', 'sequential', problem);
    expect(seq.stdout).toBe(
      `<|im_start|>system\nReason sequentially, without parallel threads.<|im_end|>\n<|im_start|>user\n${problem}<|im_end|>\n<|im_start|>assistant\n`,
    );
  });
});
