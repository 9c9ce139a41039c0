/**
 * Prompt-level forks, for models never trained to fork (Skeleton-of-Thought's point expansion,
 * ParallelPrompt's intra-query parallelism): find the prompt's schema, run one completion per
 * input as sibling calls (one batch on the embedded engine, concurrent requests on a server),
 * and join the answers in order. The run is a trajectory like any other (calls, pieces, the
 * controller's events), so streaming, the gateway and the viewers take it as is.
 */
import { EventEmitter } from 'eventemitter3';
import { deriveSeed } from '../engine/sampling.js';
import { cutResult, shareBudget } from '../engine/siblings.js';
import type { CompletionResult, Engine, FinishReason } from '../engine/types.js';
import { extractAnswer, type ExtractPolicy } from '../math/extract.js';
import { onControllerEvents, type ControllerEvent, type ControllerEvents } from '../orchestrator/events.js';
import { prefillLedger } from '../orchestrator/ledger.js';
import type { Metrics } from '../orchestrator/metrics.js';
import { buildPrompt, type PromptFormat } from '../orchestrator/prompt.js';
import { TrajectoryBuilder, type Trajectory, type TrajectoryEnd } from '../orchestrator/trajectory.js';
import { extractByModel } from './model.js';
import { extractByRules } from './rules.js';
import { partInputs, partPrompts, type PromptSchema } from './schema.js';

/** How the schema is found: the rules only, the model only, or the rules and then the model. */
export const DECOMPOSE_POLICIES = ['rules', 'model', 'auto'] as const;
/** How a prompt's schema is found (see DECOMPOSE_POLICIES). */
export type DecomposePolicy = (typeof DECOMPOSE_POLICIES)[number];

/**
 * One part of a decomposed prompt with the completion that answered it (its text, extracted
 * answer, tokens and time).
 */
export interface DecomposedPart {
  /** The input (or `1`…`n` in the count form). */
  input: string;
  /** The part's task as put to the model (before the chat template). */
  prompt: string;
  text: string;
  answer: string | null;
  tokens: number;
  finishReason: FinishReason;
  ms: number;
}

/** How a prompt was decomposed (or why it was not). */
export interface Decomposition {
  policy: DecomposePolicy;
  /** Who found the schema; null when none was found and the prompt ran as one task. */
  source: 'rules' | 'model' | null;
  schema: PromptSchema | null;
  /** Why the prompt ran as one task. */
  reason?: string;
  /** The model's schema answer (the model policies), its tokens and time. */
  extraction?: { text: string; tokens: number; ms: number };
  parts: DecomposedPart[];
}

export interface DecomposeRunOptions {
  policy: DecomposePolicy;
  prompt?: Partial<PromptFormat> | undefined;
  system?: string | undefined;
  maxTokens?: number | undefined;
  contextLimit?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
  seed?: number | undefined;
  signal?: AbortSignal | undefined;
  extract?: ExtractPolicy | undefined;
  /** The sample's key, carried by the schema request and every part's (see CallAffinity). */
  affinityKey?: string | undefined;
  /** Every event of the run, tagged (as the controller's reach solve's listeners). */
  onEvent?: ((e: ControllerEvent) => void) | undefined;
}

/** The schema by the policy, or null with the reason. */
export async function findSchema(
  engine: Engine,
  problem: string,
  o: DecomposeRunOptions,
): Promise<Omit<Decomposition, 'parts'>> {
  const rules = o.policy === 'model' ? null : extractByRules(problem);
  if (rules) return { policy: o.policy, source: 'rules', schema: rules };
  if (o.policy === 'rules')
    return {
      policy: o.policy,
      source: null,
      schema: null,
      reason: 'no explicit list of inputs (numbered, bulleted, or "each of: a; b; c")',
    };
  const m = await extractByModel(engine, problem, {
    prompt: o.prompt,
    signal: o.signal,
    maxTokens: o.maxTokens,
    affinityKey: o.affinityKey,
  });
  const extraction = { text: m.text, tokens: m.tokens, ms: m.endMs - m.startMs };
  return m.schema
    ? { policy: o.policy, source: 'model', schema: m.schema, extraction }
    : { policy: o.policy, source: null, schema: null, reason: m.reason!, extraction };
}

export interface DecomposedRun {
  trajectory: Trajectory;
  parts: DecomposedPart[];
  answer: string | null;
  metrics: Metrics;
}

let runCounter = 0;

/**
 * Run the parts of a schema: each part's task in the sequential prompt (one completion, no fork),
 * all parts as siblings of their shared prompt prefix, sharing the response budget in lockstep
 * (the extraction's tokens spent first); joined in order as `N. input` headers and the answers.
 * T counts every generated token; L the extraction and the longest part.
 */
export async function runParts(
  engine: Engine,
  problem: string,
  schema: PromptSchema,
  found: Omit<Decomposition, 'parts'>,
  o: DecomposeRunOptions,
): Promise<DecomposedRun> {
  const startMs = Date.now();
  const tok = engine.tokenizer;
  const events = new EventEmitter<ControllerEvents>();
  if (o.onEvent) onControllerEvents(events, o.onEvent);

  const inputs = partInputs(schema);
  const tasks = partPrompts(schema);
  const prompts = tasks.map((task) => tok.encode(buildPrompt(tok, task, 'sequential', o.prompt ?? {}, o.system)));
  const shared = commonPrefix(prompts);
  const prefix = prompts[0]!.slice(0, shared);
  const suffixes = prompts.map((p) => p.slice(shared));
  const b = new TrajectoryBuilder(prefix, (p) =>
    events.emit('text', { text: p.text, source: p.source, tokens: p.ids.length }),
  );
  const labels = inputs.map((_, i) => String(i + 1));
  const extractionTokens = found.extraction?.tokens ?? 0;
  const contextLimit = Math.min(o.contextLimit ?? engine.contextLength, engine.contextLength);
  const room = contextLimit - Math.max(...prompts.map((p) => p.length));
  const pool = (o.maxTokens ?? engine.contextLength) - extractionTokens;
  const maxTokens = Math.min(pool, room);
  if (found.extraction) b.phases.push({ kind: 'sequential', startMs: startMs - found.extraction.ms, endMs: startMs });

  let end: TrajectoryEnd = 'done';
  let error: Error | undefined;
  let results: CompletionResult[] = [];
  const phaseStart = Date.now();
  if (maxTokens <= 0) end = room <= 0 ? 'context' : 'budget';
  else
    try {
      events.emit('phase', { phase: 'parallel', block: 0 });
      events.emit('outlines', { block: 0, numbers: labels });
      for (const thread of labels) events.emit('thread:start', { block: 0, thread });
      const raw = await engine.completeSiblings(prefix, suffixes, {
        maxTokens,
        maxTotalTokens: pool,
        stop: [],
        temperature: o.temperature ?? 0,
        topP: o.topP ?? 1,
        cacheScope: `decompose-${++runCounter}`,
        ...(o.seed !== undefined ? { seeds: labels.map((_, i) => deriveSeed(o.seed!, 1000 + i)) } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.affinityKey ? { affinity: { key: o.affinityKey, block: 0 } } : {}),
        onDelta: (i, text) => events.emit('thread:delta', { block: 0, thread: labels[i]!, text }),
      });
      const shares = shareBudget(
        raw.map((r) => r.ids.length),
        pool,
      );
      results = raw.map((r, i) => cutResult(r, shares[i]!, (ids) => tok.decode(ids)));
      if (results.some((r) => r.finishReason === 'abort')) end = 'abort';
      else if (results.some((r) => r.finishReason === 'length'))
        end = results.reduce((s, r) => s + r.ids.length, 0) >= pool ? 'budget' : 'context';
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      end = 'error';
      events.emit('error', { error });
    }

  const parts: DecomposedPart[] = [];
  const joined: string[] = [];
  results.forEach((r, i) => {
    const call = b.record({ kind: 'thread', block: 0, thread: labels[i]! }, prefix.length, suffixes[i]!, r);
    events.emit('thread:end', {
      block: 0,
      thread: labels[i]!,
      text: r.text,
      finishReason: r.finishReason,
      tokens: r.ids.length,
      ms: r.endMs - r.startMs,
    });
    const header = `${i > 0 ? '\n\n' : ''}${labels[i]}. ${schema.n === undefined ? inputs[i] : ''}`.trimEnd() + '\n';
    b.append({ source: 'inserted', text: header, ids: tok.encode(header) });
    b.append({ source: 'model', text: r.text, ids: r.ids, call: call.index });
    joined.push(header + r.text);
    parts.push({
      input: inputs[i]!,
      prompt: tasks[i]!,
      text: r.text,
      answer: extractAnswer(r.text, o.extract),
      tokens: r.ids.length,
      finishReason: r.finishReason,
      ms: r.endMs - r.startMs,
    });
  });
  if (results.length) {
    b.phases.push({ kind: 'parallel', block: 0, startMs: phaseStart, endMs: Date.now() });
    events.emit('join', { block: 0, text: joined.join('') });
  }
  const trajectory: Trajectory = {
    problem,
    mode: 'parallel',
    prompt: tok.decode(prefix),
    promptIds: prefix,
    pieces: b.pieces,
    calls: b.calls,
    phases: b.phases,
    text: b.text,
    ids: b.ids,
    eos: false,
    finishReason: end,
    ...(error ? { error: error.message } : {}),
    startMs: found.extraction ? startMs - found.extraction.ms : startMs,
    endMs: Date.now(),
  };
  events.emit('done', { trajectory });
  const answers = parts.map((p) => p.answer);
  return {
    trajectory,
    parts,
    answer: answers.length > 0 && answers.every((a) => a !== null) ? answers.join(', ') : null,
    metrics: partMetrics(trajectory, parts, extractionTokens, found.extraction?.ms ?? 0),
  };
}

/** Tokens both prompts start with. */
function commonPrefix(prompts: readonly number[][]): number {
  let n = 0;
  const first = prompts[0]!;
  while (n < first.length && prompts.every((p) => p[n] === first[n])) n++;
  return n;
}

function partMetrics(t: Trajectory, parts: DecomposedPart[], extraction: number, extractionMs: number): Metrics {
  const tokens = parts.map((p) => p.tokens);
  const total = extraction + tokens.reduce((s, x) => s + x, 0);
  const critical = extraction + Math.max(0, ...tokens);
  const parallel = t.phases.filter((p) => p.kind === 'parallel').reduce((s, p) => s + p.endMs - p.startMs, 0);
  return {
    totalTokens: total,
    criticalPathTokens: critical,
    sequentialTokens: extraction,
    acceleration: total > 0 ? 1 - critical / total : 0,
    parallelRatio: total > 0 ? (total - extraction) / total : 0,
    blocks: parts.length ? [{ overheadTokens: 0, threadTokens: tokens }] : [],
    sequentialRuns: parts.length ? [extraction, 0] : [extraction],
    promptTokens: t.promptIds.length,
    // The first call's prefill: the extraction's, or the batch's shared prefix.
    prefillMs: t.calls[0]?.usage.prefillMs ?? null,
    parallelBlocks: parts.length ? 1 : 0,
    threads: parts.length,
    threadsPerBlock: parts.length ? [parts.length] : [],
    calls: t.calls.length,
    wallMs: t.endMs - t.startMs,
    phaseMs: { sequential: extractionMs, parallel },
    threadTimings: t.calls.map((c) => ({
      block: 0,
      thread: c.role.kind === 'thread' ? c.role.thread : '',
      tokens: c.completionIds.length,
      ms: c.endMs - c.startMs,
    })),
    prefill: prefillLedger(t),
  };
}
