// `threadweaver solve --preset multiverse-32b` against a vLLM-shaped server (loopback) serving a
// nested Multiverse trajectory, tokenized with a real BPE tokenizer (Qwen3's, the 12 Multiverse
// tags added as the preset adds them): the CLI must fork at each `</Goal>`, a path's own block
// included, send each path its prompt, join with the engine's bytes, and reproduce the
// trajectory byte for byte through plain HTTP completions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { loadPreset, presetPromptFormat } from '../../src/solve/preset.js';
import { threadweaver } from '../support/cli.js';
import { qwen3Dir } from '../support/qwen3.js';
import { startVllmStub, type VllmStub } from '../support/vllm-stub.js';

const preset = loadPreset('multiverse-32b');
const PROBLEM = 'Compute 23*47 + 18*36 - 12*11.';
const k1Part =
  "<Think>\nThree products; the last two are subtracted, so compute them together.\nLet's think in parallel.\n<Parallel>\n<Goal>\n<Outline>\n1: Compute 23*47.\n</Outline>\n<Outline>\n2: Compute 18*36 - 12*11.\n</Outline>\n</Goal>";
const path1 = ' 23*47 = 23*40 + 23*7 = 920 + 161 = 1081.\n</Path>';
const path2Head =
  " Two products again, each on its own.\nLet's think in parallel.\n<Parallel>\n<Goal>\n<Outline>\n1: Compute 18*36.\n</Outline>\n<Outline>\n2: Compute 12*11.\n</Outline>\n</Goal>";
const nested1 = ' 18*36 = 18*30 + 18*6 = 540 + 108 = 648.\n</Path>';
const nested2 = ' 12*11 = 132.\n</Path>';
const path2Tail = '18*36 = 648 and 12*11 = 132.\n</Conclusion>\n</Parallel>\nSo 648 - 132 = 516.\n</Path>';
const nestedJoin = `\n<Path>\n1:${nested1}\n<Path>\n2:${nested2}\n<Conclusion>\n`;
const tail =
  '23*47 = 1081 and 18*36 - 12*11 = 516.\n</Conclusion>\n</Parallel>\n1081 + 516 = 1597.\n</Think>\n\nAnswer: \\boxed{1597}';
const J = `${k1Part}\n<Path>\n1:${path1}\n<Path>\n2:${path2Head}${nestedJoin}${path2Tail}\n<Conclusion>\n${tail}`;

let tok: HFTokenizer;
let stub: VllmStub;

beforeAll(async () => {
  tok = (await loadTokenizer(resolveModelSource(qwen3Dir))).withAddedTokens(preset.tokenizer.addedTokens);
  const P = tok.encode(buildPrompt(tok, PROBLEM, 'parallel', presetPromptFormat(preset), undefined, 'multiverse'));
  const enc = (s: string) => tok.encode(s);
  const toPath2 = [...P, ...enc(k1Part), ...enc('\n<Path>\n2:')];
  // What the model writes from each context a path starts or goes on from.
  const sequences = [
    [...P, ...enc(J), tok.eosIds[0]!],
    [...toPath2, ...enc(path2Head), ...enc(nestedJoin), ...enc(path2Tail)],
    [...toPath2, ...enc(path2Head), ...enc('\n<Path>\n1:'), ...enc(nested1)],
    [...toPath2, ...enc(path2Head), ...enc('\n<Path>\n2:'), ...enc(nested2)],
  ];
  stub = await startVllmStub({ tokenizer: tok, sequences, modelName: 'multiverse-32b', maxModelLen: 32768 });
});

afterAll(async () => stub?.close());

describe('solve --preset multiverse-32b on a vLLM-shaped server', () => {
  it('reproduces a nested trajectory byte for byte, one request per call, stopping at </Goal> and </Path>', async () => {
    const r = await threadweaver(
      'solve',
      '--json',
      '--preset',
      'multiverse-32b',
      '--tokenizer',
      qwen3Dir,
      '--base-url',
      stub.url,
      PROBLEM,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.text).toBe(J);
    expect(out.answer).toBe('1597');
    expect(out.finishReason).toBe('done');
    expect(out.formatValid).toBe(true);
    expect(out.metrics.parallelBlocks).toBe(2);
    expect(out.metrics.totalTokens).toBe(tok.encode(J).length + 1);
    expect(out.metrics.criticalPathTokens).toBeLessThan(out.metrics.totalTokens);

    // Sequential to </Goal>; paths 1 and 2; path 2's two nested paths; path 2 again; sequential to EOS.
    const requests = stub.requests;
    expect(requests.map((b) => JSON.stringify(b.stop))).toEqual([
      '["</Goal>"]',
      '["</Path>","</Goal>"]',
      '["</Path>","</Goal>"]',
      '["</Path>","</Goal>"]',
      '["</Path>","</Goal>"]',
      '["</Path>","</Goal>"]',
      '["</Goal>"]',
    ]);
    // Each path from its block's context + "\n<Path>\n{n}:" (siblings arrive in any order).
    const prompts = requests.map((b) => tok.decode(b.prompt));
    for (const end of [
      `${k1Part}\n<Path>\n1:`,
      `${k1Part}\n<Path>\n2:`,
      `${path2Head}\n<Path>\n1:`,
      `${path2Head}\n<Path>\n2:`,
      nestedJoin,
    ]) {
      expect(
        prompts.some((p) => p.endsWith(end)),
        end,
      ).toBe(true);
    }
    for (const body of requests)
      expect(body).toMatchObject({
        include_stop_str_in_output: true,
        skip_special_tokens: false,
        temperature: 0.6,
        top_p: 0.95,
      });
  });
});
