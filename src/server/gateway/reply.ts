import type { FinishReason, Tokenizer } from '../../engine/types.js';
import { flattenBlocks } from '../../format/dialect.js';
import { threadweaver } from '../../format/threadweaver.js';
import { parallelWidth, tokenOffsets, type Metrics } from '../../orchestrator/metrics.js';
import type { Trajectory, TrajectoryEnd } from '../../orchestrator/trajectory.js';
import { type SolveResult } from '../../solve/types.js';
import { reasoningSpan, splitReasoning, type ThinkTags } from './text-stream.js';

/** One thread of a block as the gateway reports it (times in ms from the start of the run). */
export interface ThreadReport {
  thread: string;
  /** What the model wrote after `\n<Thread>\n{n}:`, its closing tag included. */
  text: string;
  tokens: number;
  finishReason: FinishReason;
  startMs: number;
  endMs: number;
}

export interface BlockReport {
  /** 0-based, as in the controller's events. */
  block: number;
  outlines: { number: string | null; text: string }[];
  threads: ThreadReport[];
}

/** The `threadweaver` field of a response (and of a stream's last chunk). */
export interface RunReport {
  mode: 'parallel' | 'sequential';
  /** The trajectory format. */
  format?: string;
  answer: string | null;
  finishReason: TrajectoryEnd;
  formatValid: boolean;
  violations: SolveResult['violations'];
  warnings: string[];
  /** The run's metrics, plus its own parallel width T/L (not a speedup against a sequential run). */
  metrics: Metrics & { parallelWidth: number };
  blocks: BlockReport[];
  phases: { kind: 'sequential' | 'parallel'; block?: number; startMs: number; endMs: number }[];
}

export function runReport(r: SolveResult): RunReport {
  const t = r.trajectory;
  const at = (ms: number) => ms - t.startMs;
  // Blocks in the controller's numbering (nested ones after the block holding them).
  const parsed = flattenBlocks((r.format ?? threadweaver).parse(t.text).blocks);
  const blocks: BlockReport[] = [];
  for (const c of t.calls) {
    if (c.role.kind !== 'thread') continue;
    const index = c.role.block;
    let block = blocks[index];
    if (!block) {
      block = {
        block: index,
        outlines: (parsed[index]?.plan ?? []).map((o) => ({ number: o.label, text: o.text })),
        threads: [],
      };
      blocks[index] = block;
    }
    block.threads.push({
      thread: c.role.thread,
      text: c.text,
      tokens: c.completionIds.length,
      finishReason: c.finishReason,
      startMs: at(c.startMs),
      endMs: at(c.endMs),
    });
  }
  return {
    mode: t.mode,
    ...(r.format ? { format: r.format.name } : {}),
    answer: r.answer,
    finishReason: r.finishReason,
    formatValid: r.formatValid,
    violations: r.violations,
    warnings: r.warnings,
    metrics: { ...r.metrics, parallelWidth: parallelWidth(r.metrics) },
    blocks,
    phases: t.phases.map((p) => ({ ...p, startMs: at(p.startMs), endMs: at(p.endMs) })),
  };
}

/** OpenAI's finish_reason for how a run ended: `length` when a limit cut it. */
export function finishReason(end: TrajectoryEnd): 'stop' | 'length' {
  return end === 'budget' || end === 'context' || end === 'transitions' ? 'length' : 'stop';
}

/**
 * Generated tokens over every call (threads included), and how many of them are reasoning: those
 * that start inside the reasoning span (its tags included), which ends at `reasoningEnd` in the text.
 */
export function usage(t: Trajectory, tokenizer: Tokenizer, reasoningEnd: number) {
  const completion = t.calls.reduce((s, c) => s + c.completionIds.length, 0);
  let reasoning = 0;
  let offset = 0;
  for (const p of t.pieces) {
    if (p.source === 'model') {
      for (const o of tokenOffsets(p.text, p.ids, tokenizer)) if (offset + o < reasoningEnd) reasoning++;
    }
    offset += p.text.length;
  }
  const prompt = t.promptIds.length;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

/** Which field carries the reasoning: vLLM's and OpenRouter's `reasoning`, SGLang's, llama.cpp's and DeepSeek's `reasoning_content`, or both. */
export type ReasoningField = 'reasoning' | 'reasoning_content' | 'both';

/** How replies carry a run's reasoning. */
export interface ReasoningOutput {
  /** Default `both`. */
  field?: ReasoningField | undefined;
  /** Keep `<think>` and `</think>` in the reasoning (default: left out, as vLLM does). */
  keepTags?: boolean | undefined;
}

/** The reasoning in the field(s) asked for (absent when there is none). */
export function reasoningFields(reasoning: string, field: ReasoningField = 'both'): Record<string, string> {
  if (!reasoning) return {};
  if (field === 'both') return { reasoning, reasoning_content: reasoning };
  return { [field]: reasoning };
}

/** The end of the reasoning span in `text` (0: none), with the format's tags. */
export function reasoningEnd(text: string, think: ThinkTags | null | undefined): number {
  return reasoningSpan(text, think)?.end ?? 0;
}

/** The message of a finished run: the reasoning, and the answer text as its content. */
export function chatMessage(r: SolveResult, output: ReasoningOutput = {}) {
  const { reasoning, content } = splitReasoning(r.text, {
    think: r.format ? r.format.think : undefined,
    keepTags: output.keepTags,
  });
  return { role: 'assistant' as const, content, ...reasoningFields(reasoning, output.field), refusal: null };
}
