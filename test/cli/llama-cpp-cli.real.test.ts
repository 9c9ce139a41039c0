import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonlRows } from '../support/cli-process.js';
import { threadweaver } from '../support/cli.js';
import { repoRoot } from '../support/helpers.js';
import { LlamaCppEngine } from '../../src/engine/llama-cpp/engine.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { canConvertTiny, canRunTinyGguf, tinyGguf, tinyHfDir } from '../support/llama-cpp.js';

// The commands on a GGUF file through the built CLI: converting, solving, evaluating and serving
// it, the flags' errors, and the one line a user without node-llama-cpp gets.
const converts = canConvertTiny('the llama-cpp CLI tests');
const runs = converts && (await canRunTinyGguf('the llama-cpp CLI tests'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'llama-cpp-cli-'));
const problem = 'Compute 37*24 + 18*53 - 29*11.';

describe.runIf(converts)('threadweaver gguf', () => {
  it('converts the Hugging Face folder to the requested type and says what it wrote', async () => {
    const out = path.join(tmp, 'tiny-q8.gguf');
    const r = await threadweaver('gguf', '--model', tinyHfDir(), '--out', out, '--type', 'q8_0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^gguf: 56 tensors \(q8_0\), 110 tokens → .*tiny-q8\.gguf \(3\.\d MB\)\n$/);
    expect(existsSync(out)).toBe(true);
  });

  it('bad flags and a folder without weights are errors that say what to do', async () => {
    expect((await threadweaver('gguf', '--model', tinyHfDir())).stderr).toMatch(/--out: is required/);
    expect((await threadweaver('gguf', '--out', 'x.gguf', '--type', 'q4')).stderr).toMatch(
      /--type: must be one of f32, f16, q8_0/,
    );
    const bundled = await threadweaver('gguf', '--out', path.join(tmp, 'x.gguf'));
    expect(bundled.code).toBe(1);
    expect(bundled.stderr).toMatch(/has no model\.safetensors: .*point --model at a copy of the full model folder/);
  });
});

describe.runIf(runs)('commands on a GGUF file', () => {
  let gguf: string;
  beforeAll(async () => {
    gguf = await tinyGguf('f32');
  });

  it('solve --json: a .gguf --model is recognised and answers as --engine llama-cpp does, in both modes', async () => {
    for (const mode of ['parallel', 'sequential']) {
      const reference = await threadweaver('solve', '--json', '--mode', mode, problem);
      const recognised = await threadweaver(
        'solve',
        '--json',
        '--mode',
        mode,
        '--model',
        gguf,
        '--gpu',
        'cpu',
        problem,
      );
      const named = await threadweaver(
        'solve',
        '--json',
        '--mode',
        mode,
        '--engine',
        'llama-cpp',
        '--model',
        gguf,
        problem,
      );
      expect(recognised.code, recognised.stderr).toBe(0);
      expect(named.code, named.stderr).toBe(0);
      const [a, b, c] = [reference, recognised, named].map(
        (r) => JSON.parse(r.stdout) as { text: string; answer: string },
      );
      // The engine's rows are greedy up to rounding that depends on batching (llama-cpp.real.test.ts),
      // so the texts are compared with the ONNX engine's for the record, not asserted.
      expect([b!.answer, c!.answer]).toEqual(['1523', '1523']);
      console.info(
        `[llama-cpp cli] ${mode}: texts equal to the ONNX engine's: ${[b, c].filter((r) => r!.text === a!.text).length}/2`,
      );
    }
  });

  it('eval and rollout run a GGUF file; eval records the file it ran', async () => {
    const out = path.join(tmp, 'eval-run');
    const r = await threadweaver('eval', '--dataset', 'arith', '--limit', '2', '--model', gguf, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const rows = jsonlRows(path.join(out, 'results.jsonl'));
    expect(rows).toHaveLength(4);
    for (const row of rows) expect((row.settings as { model: string }).model).toBe(gguf);
    expect(rows.every((row) => row.correct === true)).toBe(true);
    const rollouts = path.join(tmp, 'rollouts.jsonl');
    const rl = await threadweaver(
      'rollout',
      '--dataset',
      'arith',
      '--limit',
      '1',
      '--group',
      '2',
      '--model',
      gguf,
      '--out',
      rollouts,
    );
    expect(rl.code, rl.stderr).toBe(0);
    expect(jsonlRows(rollouts)).toHaveLength(2);
  });

  it('a preset’s added tokens must be single tokens of the file', async () => {
    const r = await threadweaver('solve', '--preset', 'threadweaver-qwen3-8b', '--model', gguf, problem);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /preset threadweaver-qwen3-8b: .* does not have <Think> <\/Think> <Conclusion> <\/Conclusion> as single tokens/,
    );
  });

  it('flags of another engine are usage errors', async () => {
    const gpuOnOnnx = await threadweaver('solve', '--gpu', 'cuda', problem);
    expect(gpuOnOnnx.code).toBe(2);
    expect(gpuOnOnnx.stderr).toMatch(/--gpu only apply with --engine llama-cpp/);
    const noModel = await threadweaver('solve', '--engine', 'llama-cpp', problem);
    expect(noModel.stderr).toMatch(/--engine llama-cpp needs --model FILE\.gguf/);
    const dtype = await threadweaver('solve', '--model', gguf, '--dtype', 'fp32', problem);
    expect(dtype.stderr).toMatch(/--dtype do not apply to --engine llama-cpp/);
    const missing = await threadweaver('solve', '--model', path.join(tmp, 'nope.gguf'), problem);
    expect(missing.stderr).toMatch(/--model: GGUF file not found/);
  });

  it('without node-llama-cpp the engine says in one line what to install', async () => {
    const hide = path.join(repoRoot, 'test/support/hide-node-llama-cpp.mjs');
    const child = spawn(
      process.execPath,
      ['--import', hide, path.join(repoRoot, 'dist/src/cli/main.js'), 'solve', '--model', gguf, problem],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toBe(
      'threadweaver solve: the llama-cpp engine needs node-llama-cpp: npm install node-llama-cpp@3.21.1\n',
    );
  });
});

describe.runIf(runs)('threadweaver serve on a GGUF file', () => {
  let child: ReturnType<typeof spawn>;
  let baseURL: string;
  beforeAll(async () => {
    const gguf = await tinyGguf('f32');
    child = spawn(
      process.execPath,
      [path.join(repoRoot, 'dist/src/cli/main.js'), 'serve', '--port', '0', '--model', gguf, '--threads', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const deadline = Date.now() + 60_000;
    while (!/http:\S+/.test(stdout) && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    baseURL = /(http:\S+)/.exec(stdout)![1]!;
  });
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('answers the openai client: models, completions, and chat completions that match solve’s first call', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'unused' });
    const models = await client.models.list();
    expect(models.data[0]!.id).toBe('llama-cpp:tiny-threadweaver-f32');
    // The same file in-process, one call at a time as the server runs them here: the same batches.
    const local = await LlamaCppEngine.load({ model: await tinyGguf('f32'), gpu: false, threads: 1 });
    const raw = `<|im_start|>user\n${problem}<|im_end|>\n<|im_start|>assistant\n`;
    const prompt = buildPrompt(local.tokenizer, problem, 'parallel');
    const head = (await local.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] })).text;
    const text = (await local.complete({ prompt: raw, maxTokens: 12 })).text;
    await local.close();
    const chat = await client.chat.completions.create({
      model: models.data[0]!.id,
      messages: [{ role: 'user', content: problem }],
      max_tokens: 400,
      temperature: 0,
      stop: ['</Outlines>'],
    });
    expect(chat.choices[0]!.message.content).toBe(head.slice(0, -'</Outlines>'.length));
    const completion = await client.completions.create({
      model: models.data[0]!.id,
      prompt: raw,
      max_tokens: 12,
      temperature: 0,
    });
    expect(completion.choices[0]!.text).toBe(text);
    expect(completion.choices[0]!.text.length).toBeGreaterThan(10);
    expect(completion.choices[0]!.finish_reason).toBe('length');
  });
});
