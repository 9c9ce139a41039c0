/**
 * Step 1 (LLM): step extraction. The LLM numbers the main steps and sub-steps of the reasoning
 * with line ranges and names groups of steps that do not depend on each other.
 */
import { z } from 'zod';
import { loadPrompt } from '../orchestrator/prompt.js';
import { askChecked, describeIssues, type AskResult } from './ask.js';
import type { LineRange } from './draft.js';
import { parseJsonAnswer } from '../internal/json-answer.js';
import type { ChatModel } from './llm.js';
import { AnswerFormatError } from '../internal/json-answer.js';

export interface PlanStep {
  id: string;
  summary: string;
  start: number;
  end: number;
  substeps: Omit<PlanStep, 'substeps'>[];
}

/** Threads that may run side by side; each thread is one or more consecutive step ids. */
export interface PlanGroup {
  threads: string[][];
  reason: string;
}

export interface StepPlan {
  steps: PlanStep[];
  groups: PlanGroup[];
}

/** A group resolved to line ranges: what the splice step works on. */
export interface BlockCandidate {
  /** Index of the group in the plan. */
  group: number;
  threads: { steps: string[]; lines: LineRange }[];
}

const stepId = z.union([z.string(), z.number()]).transform((v) => String(v).trim());
const lineNumber = z.coerce.number().int('must be a whole line number').min(1, 'line numbers start at 1');
const substep = z.object({ id: stepId, summary: z.string().default(''), start: lineNumber, end: lineNumber });
const planSchema = z.object({
  steps: z.array(substep.extend({ substeps: z.array(substep).default([]) })).min(1, 'no steps'),
  groups: z
    .array(
      z.object({ threads: z.array(z.array(stepId).min(1, 'a thread names no step')), reason: z.string().default('') }),
    )
    .default([]),
});

/** The numbered view of the reasoning the LLM reads: `L1: ...` per line. */
export function numberLines(lines: readonly string[]): string {
  return lines.map((l, i) => `L${i + 1}: ${l}`).join('\n');
}

/** Read and check a step-1 answer against a reasoning of `lineCount` lines; throws saying what is wrong. */
export function readStepPlan(content: string, lineCount: number): StepPlan {
  const parsed = planSchema.safeParse(parseJsonAnswer(content));
  if (!parsed.success)
    throw new AnswerFormatError(`the JSON does not have the asked shape: ${describeIssues(parsed.error.issues)}`);
  const plan: StepPlan = parsed.data;
  const ids = new Set<string>();
  const checkRange = (s: { id: string; start: number; end: number }, within: LineRange) => {
    if (ids.has(s.id)) throw new AnswerFormatError(`step id "${s.id}" is used twice`);
    ids.add(s.id);
    if (s.start > s.end) throw new AnswerFormatError(`step ${s.id}: start ${s.start} is after end ${s.end}`);
    if (s.start < within[0] || s.end > within[1]) {
      throw new AnswerFormatError(`step ${s.id}: lines ${s.start}-${s.end} are outside ${within[0]}-${within[1]}`);
    }
  };
  for (const step of plan.steps) {
    checkRange(step, [1, lineCount]);
    for (const sub of step.substeps) checkRange(sub, [step.start, step.end]);
  }
  plan.groups.forEach((g, gi) => {
    for (const id of g.threads.flat())
      if (!ids.has(id)) throw new AnswerFormatError(`group ${gi + 1} names step "${id}", which is not in "steps"`);
  });
  return plan;
}

/** Each group's threads as line ranges (a thread spans its steps' lines from first to last). */
export function blockCandidates(plan: StepPlan): BlockCandidate[] {
  const ranges = new Map<string, LineRange>();
  for (const s of plan.steps) {
    ranges.set(s.id, [s.start, s.end]);
    for (const sub of s.substeps) ranges.set(sub.id, [sub.start, sub.end]);
  }
  return plan.groups.map((g, group) => ({
    group,
    threads: g.threads.map((steps) => {
      const rs = steps.map((id) => ranges.get(id)!);
      return { steps, lines: [Math.min(...rs.map((r) => r[0])), Math.max(...rs.map((r) => r[1]))] as const };
    }),
  }));
}

/** The step-1 request of one reasoning (the longest request of an item: it holds the whole reasoning). */
export function stepsPrompt(problem: string, lines: readonly string[]): string {
  return loadPrompt('sft-steps', { problem, lines: numberLines(lines), lineCount: String(lines.length) });
}

/** Ask for the step plan of one reasoning. */
export function extractSteps(
  model: ChatModel,
  problem: string,
  lines: readonly string[],
  attempts: number,
  signal?: AbortSignal,
): Promise<AskResult<StepPlan>> {
  return askChecked(
    model,
    [{ role: 'user', content: stepsPrompt(problem, lines) }],
    (c) => readStepPlan(c, lines.length),
    attempts,
    signal,
  );
}
