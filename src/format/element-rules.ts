/** What the element-based formats (Multiverse, Parallel-R1, NPR) share: fork-tree pieces and strict rules. */
import { labelled, type ForkBlock, type ForkThread } from './dialect.js';
import { innerText, strayTextAt, type Element, type StrayClose } from './elements.js';
import type { Violation, ViolationCode } from './validate.js';

/** A block from its element: the region inside its tags (the tags themselves count as sequential text). */
export function elementBlock(
  el: Element,
  depth: number,
  parts: Pick<ForkBlock, 'plan' | 'threads' | 'reduce'>,
): ForkBlock {
  return {
    start: el.start,
    end: el.end,
    innerStart: el.openEnd,
    innerEnd: el.closeStart,
    closed: el.closed,
    ...parts,
    depth,
  };
}

/** A thread from its element: its body is the text inside its tags; `N:` labels it unless a label is given. */
export function elementThread(text: string, el: Element, blocks: ForkBlock[] = [], label?: string): ForkThread {
  const body = innerText(text, el);
  const named = label === undefined ? labelled(body) : { label, text: body.trim() };
  return {
    start: el.start,
    end: el.end,
    bodyStart: el.openEnd,
    bodyEnd: el.closeStart,
    ...named,
    closed: el.closed,
    blocks,
  };
}

/** Every element under `root`, depth first. */
export function allElements(root: Element): Element[] {
  const out: Element[] = [];
  const walk = (e: Element) => e.children.forEach((c) => (out.push(c), walk(c)));
  walk(root);
  return out;
}

/** One reasoning span: no second open, no unclosed open, no close without an open. */
export function thinkViolations(root: Element, strays: readonly StrayClose[], name: string): Violation[] {
  const out: Violation[] = [];
  const opens = allElements(root).filter((e) => e.name === name);
  if (opens.length > 1)
    out.push({ code: 'think-duplicate', offset: opens[1]!.start, message: `more than one <${name}>` });
  const unclosed = opens.find((e) => !e.closed);
  if (unclosed) out.push({ code: 'think-unclosed', offset: unclosed.start, message: `<${name}> is never closed` });
  for (const s of strays)
    if (s.name === name)
      out.push({ code: 'think-close-unmatched', offset: s.start, message: `</${name}> without a preceding <${name}>` });
  return out;
}

/** Every element left open (`skip`: a name reported by its own rule). */
export function unclosedViolations(root: Element, skip?: string): Violation[] {
  return allElements(root)
    .filter((e) => !e.closed && e.name !== skip)
    .map((e) => ({ code: 'tag-unclosed' as const, offset: e.start, message: `<${e.name}> is never closed` }));
}

// A plan entry or thread body: a whole-number label, a colon, then some text.
const LABELLED = /^\s*(\d+)\s*:\s*\S/;

export interface NumberingNames {
  plan: string;
  thread: string;
  planFormat: ViolationCode;
  planNumbering: ViolationCode;
  count: ViolationCode;
  maxThreads: number;
}

/**
 * A plan's entries numbered 1..k as `N: text`, one thread per entry, thread i labelled like
 * entry i (the reference data filter's rules, shared by every format with a plan).
 */
export function numberingViolations(
  text: string,
  plan: readonly Element[],
  threads: readonly Element[],
  n: NumberingNames,
): Violation[] {
  const out: Violation[] = [];
  const labels = plan.map((e) => labelled(innerText(text, e)).label);
  plan.forEach((e, i) => {
    const m = LABELLED.exec(innerText(text, e));
    if (!m) out.push({ code: n.planFormat, offset: e.start, message: `${n.plan} is not of the form "N: text"` });
    else if (m[1] !== String(i + 1))
      out.push({ code: n.planNumbering, offset: e.start, message: `${n.plan} ${i + 1} is numbered ${m[1]}` });
  });
  if (plan.length > n.maxThreads)
    out.push({
      code: 'too-many-threads',
      offset: plan[0]!.start,
      message: `${plan.length} ${n.plan}s (max ${n.maxThreads})`,
    });
  if (threads.length > 0 && plan.length !== threads.length) {
    out.push({
      code: n.count,
      offset: threads[0]!.start,
      message: `${plan.length} ${n.plan}s but ${threads.length} ${n.thread}s`,
    });
  }
  threads.forEach((e, i) => {
    const m = LABELLED.exec(innerText(text, e));
    if (!m) out.push({ code: 'thread-format', offset: e.start, message: `${n.thread} is not of the form "N: text"` });
    else {
      const expected = labels[i] ?? String(i + 1);
      if (m[1] !== expected || m[1] !== String(i + 1))
        out.push({
          code: 'thread-numbering',
          offset: e.start,
          message: `${n.thread} ${i + 1} is numbered ${m[1]}, its ${n.plan} ${expected}`,
        });
    }
  });
  return out;
}

/** The first non-whitespace text in an element outside the given children, or -1. */
export function strayOutside(text: string, el: Element, children: readonly Element[]): number {
  let cursor = el.openEnd;
  for (const c of children) {
    const at = strayTextAt(text, cursor, c.start);
    if (at >= 0) return at;
    cursor = c.end;
  }
  return strayTextAt(text, cursor, el.closeStart);
}
