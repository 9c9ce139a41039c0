// `threadweaver solve --preset threadweaver-qwen3-8b` against a vLLM-shaped server (loopback)
// that serves a Qwen3-tokenized ThreadWeaver trajectory: the CLI must send the training prompt as
// ids, keep the tags and stop strings, fork where the trajectory forks, reproduce it byte for
// byte, and count T and L as the reference does.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import {
  loadPreset,
  presetEngineOptions,
  presetPromptFormat,
  presetsDir,
  resolvePreset,
} from '../../src/solve/preset.js';
import { startGateway } from '../../src/server/index.js';
import { postJson } from '../support/server-http.js';
import { threadweaver } from '../support/cli.js';
import {
  qwen3Dir,
  replaySequences,
  SAMPLE_PROBLEM,
  sampleTrajectory,
  tagIds,
  threadweaverPreset,
  writeCheckpointTokenizer,
} from '../support/qwen3.js';
import { referenceCounts } from '../support/reference-counter.js';
import { startVllmStub, type VllmStub } from '../support/vllm-stub.js';

let dir: string;
let ckpt: string;
let tok: HFTokenizer;
let completion: string;
let promptIds: number[];
let stub: VllmStub;
let textOnly: VllmStub;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tw-replay-'));
  ckpt = await writeCheckpointTokenizer(path.join(dir, 'checkpoint'));
  tok = await loadTokenizer(resolveModelSource(ckpt));
  completion = await sampleTrajectory();
  promptIds = tok.encode(buildPrompt(tok, SAMPLE_PROBLEM, 'parallel', presetPromptFormat(threadweaverPreset)));
  const sequences = replaySequences(tok, promptIds, completion);
  stub = await startVllmStub({ tokenizer: tok, sequences });
  textOnly = await startVllmStub({ tokenizer: tok, sequences, tokenIds: false });
});

afterAll(async () => {
  await stub?.close();
  await textOnly?.close();
  await rm(dir, { recursive: true, force: true });
});

const solveJson = async (server: VllmStub, ...flags: string[]) => {
  const r = await threadweaver('solve', '--json', '--base-url', server.url, ...flags, SAMPLE_PROBLEM);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe('solve --preset threadweaver-qwen3-8b on a vLLM-shaped server', () => {
  it('reproduces the trajectory byte for byte, forks where it forks, and reports the reference T and L', async () => {
    const before = stub.requests.length;
    const out = await solveJson(stub, '--preset', 'threadweaver-qwen3-8b', '--tokenizer', ckpt);
    expect(out.preset).toBe('threadweaver-qwen3-8b');
    expect(out.text).toBe(completion);
    expect(out.answer).toBe('32');
    expect(out.finishReason).toBe('done');
    expect(out.formatValid).toBe(true);
    expect(out.metrics.parallelBlocks).toBe(2);
    expect(out.metrics.threadsPerBlock).toEqual([3, 2]);
    // The reference counts the decoded response, EOS included, re-tokenized.
    const ref = referenceCounts([...tok.encode(completion), tok.eosIds[0]!], tagIds(tok));
    expect({ T: out.metrics.totalTokens, L: out.metrics.criticalPathTokens }).toEqual({
      T: ref.total,
      L: ref.critical,
    });

    const requests = stub.requests.slice(before);
    // Three sequential calls (to each </Outlines>, then to EOS) and one per thread.
    expect(requests).toHaveLength(8);
    expect(requests[0]!.prompt).toEqual(promptIds);
    for (const body of requests) {
      expect(Array.isArray(body.prompt) && body.prompt.every(Number.isInteger)).toBe(true);
      expect(body).toMatchObject({
        include_stop_str_in_output: true,
        skip_special_tokens: false,
        return_token_ids: true,
        temperature: 0.6,
        top_p: 0.95,
        top_k: -1,
        repetition_penalty: 1,
      });
      expect(body.prompt.length + body.max_tokens).toBeLessThanOrEqual(40960);
    }
    const stops = requests.map((b) => b.stop);
    expect(stops.filter((s) => JSON.stringify(s) === '["</Outlines>"]')).toHaveLength(3);
    expect(stops.filter((s) => JSON.stringify(s) === '["</Thread>"]')).toHaveLength(5);
    // Every thread starts from its block's context + "\n<Thread>\nN:".
    const threadPrompts = requests
      .filter((b) => b.stop[0] === '</Thread>')
      .map((b) => tok.decode(b.prompt.slice(promptIds.length)));
    expect(threadPrompts.map((p) => p.slice(p.lastIndexOf('</Outlines>')))).toEqual(
      ['1', '2', '3', '1', '2'].map((n) => `</Outlines>\n<Thread>\n${n}:`),
    );
  });

  it('the tokenizer of a plain Qwen3 folder gets the 12 tags from the preset: the same requests and bytes', async () => {
    const before = stub.requests.length;
    const out = await solveJson(stub, '--preset', 'threadweaver-qwen3-8b', '--tokenizer', qwen3Dir);
    expect(out.text).toBe(completion);
    expect(stub.requests[before]!.prompt).toEqual(promptIds);
  });

  it('a server that returns no ids: the text re-tokenized gives the same bytes, T and L here', async () => {
    const out = await solveJson(textOnly, '--preset', 'threadweaver-qwen3-8b', '--tokenizer', ckpt);
    expect(out.text).toBe(completion);
    const ref = referenceCounts([...tok.encode(completion), tok.eosIds[0]!], tagIds(tok));
    expect({ T: out.metrics.totalTokens, L: out.metrics.criticalPathTokens }).toEqual({
      T: ref.total,
      L: ref.critical,
    });
  });

  it('threadweaver prompt --ids prints exactly the ids the first request sent', async () => {
    const r = await threadweaver(
      'prompt',
      '--preset',
      'threadweaver-qwen3-8b',
      '--tokenizer',
      ckpt,
      '--ids',
      SAMPLE_PROBLEM,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(promptIds);
    const text = await threadweaver('prompt', '--preset', 'threadweaver-qwen3-8b', '--tokenizer', ckpt, SAMPLE_PROBLEM);
    expect(tok.encode(text.stdout)).toEqual(promptIds);
  });
});

/** A record without what differs between any two runs: times and ids made up per run. */
function timeless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(timeless);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !/(Ms|ms|Seconds|seconds|At|time|Time|speedup|Speedup)$/.test(k) && k !== 'wallMs')
      .map(([k, v]) => [k, timeless(v)]),
  );
}

describe('streamed and whole completions', () => {
  it('give byte-identical trajectories: streamed by default, whole with --no-stream-upstream', async () => {
    const before = stub.requests.length;
    const streamed = await solveJson(stub, '--preset', 'threadweaver-qwen3-8b', '--tokenizer', ckpt);
    const streamedBodies = stub.requests.slice(before);
    const mid = stub.requests.length;
    const whole = await solveJson(
      stub,
      '--preset',
      'threadweaver-qwen3-8b',
      '--tokenizer',
      ckpt,
      '--no-stream-upstream',
    );
    const wholeBodies = stub.requests.slice(mid);
    expect(streamedBodies.every((b) => b.stream === true && b.stream_options?.include_usage === true)).toBe(true);
    expect(wholeBodies.every((b) => b.stream === undefined && b.stream_options === undefined)).toBe(true);
    // The same requests apart from streaming (and each run's own affinity key, `user`), and the
    // same result, calls and ids included.
    const strip = (b: Record<string, unknown>) => {
      const { stream: _, stream_options: __, user: ___, ...rest } = b;
      return rest;
    };
    expect(streamedBodies.every((b) => typeof b.user === 'string')).toBe(true);
    expect(streamedBodies.map(strip)).toEqual(wholeBodies.map(strip));
    expect(streamed.text).toBe(completion);
    expect(timeless(streamed)).toEqual(timeless(whole));
  });

  it('give identical eval rows', async () => {
    const data = path.join(dir, 'one.jsonl');
    await writeFile(data, JSON.stringify({ id: 'sample', problem: SAMPLE_PROBLEM, answer: '32' }) + '\n');
    const rows: unknown[] = [];
    for (const extra of [[], ['--no-stream-upstream']]) {
      const out = path.join(dir, `eval-${extra.length}`);
      const r = await threadweaver(
        'eval',
        '--data',
        data,
        '--mode',
        'parallel',
        '--out',
        out,
        '--base-url',
        stub.url,
        '--preset',
        'threadweaver-qwen3-8b',
        '--tokenizer',
        ckpt,
        ...extra,
      );
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      rows.push(
        ...(await readFile(path.join(out, 'results.jsonl'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    expect(rows).toHaveLength(2);
    expect((rows[0] as { correct: boolean }).correct).toBe(true);
    // The rows are the same but for the affinity key, which each run folder derives for its own.
    const keyless = (row: unknown) => {
      const { affinityKey: _, ...rest } = row as Record<string, unknown>;
      return timeless(rest);
    };
    expect(keyless(rows[0])).toEqual(keyless(rows[1]));
  });
});

describe('explicit flags and the gateway', () => {
  it('explicit sampling and budget flags override the preset', async () => {
    const before = stub.requests.length;
    const out = await solveJson(
      stub,
      '--preset',
      'threadweaver-qwen3-8b',
      '--tokenizer',
      ckpt,
      '--temperature',
      '0.2',
      '--top-p',
      '0.5',
      '--max-tokens',
      '30000',
    );
    expect(out.text).toBe(completion);
    const first = stub.requests[before]!;
    expect([first.temperature, first.top_p, first.max_tokens]).toEqual([0.2, 0.5, 30000]);
  });

  it("the gateway with the preset: the training prompt, the preset's sampling for requests that set none", async () => {
    const preset = loadPreset('threadweaver-qwen3-8b');
    const engine = await OpenAIEngine.connect({ baseUrl: stub.url, ...(await presetEngineOptions(preset, ckpt)) });
    const s = resolvePreset(preset, 'solve').settings;
    const gw = await startGateway({
      engine,
      port: 0,
      prompt: s.prompt,
      defaults: { temperature: s.temperature, topP: s.topP },
    });
    try {
      const before = stub.requests.length;
      const r = await postJson(`${gw.baseURL}/chat/completions`, {
        messages: [{ role: 'user', content: SAMPLE_PROBLEM }],
      });
      expect(r.status).toBe(200);
      expect(r.body.choices[0].message.content).toContain('\\boxed{32}');
      expect(r.body.threadweaver.metrics.threads).toBe(5);
      expect(stub.requests[before]).toMatchObject({ prompt: promptIds, temperature: 0.6, top_p: 0.95 });
      expect(engine.contextLength).toBe(40960);
    } finally {
      await gw.close();
    }
  });
});

describe('what the preset prevents', () => {
  it('letting the server drop special tokens (its default): the tags vanish and the run never forks', async () => {
    const preset = JSON.parse(await readFile(path.join(presetsDir(), 'threadweaver-qwen3-8b.json'), 'utf8'));
    const file = path.join(dir, 'no-vendor-params.json');
    await writeFile(
      file,
      JSON.stringify({ ...preset, name: 'no-vendor-params', stop: { ...preset.stop, vendorParams: false } }),
    );
    const before = stub.requests.length;
    const out = await solveJson(stub, '--preset', file, '--tokenizer', ckpt);
    expect(stub.requests.slice(before)).toHaveLength(1);
    expect(stub.requests[before]!.skip_special_tokens).toBeUndefined();
    expect(out.metrics.parallelBlocks).toBe(0);
    expect(out.text).not.toContain('<Parallel>');
    expect(out.answer).toBe('32');
  });

  it('the prompt without the preset (no suffix) continues nothing the model was trained on', async () => {
    const r = await threadweaver('solve', '--json', '--base-url', stub.url, '--tokenizer', ckpt, SAMPLE_PROBLEM);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/400.*continues no sequence/);
  });
});
