/**
 * Multiverse (arXiv 2506.09991). Bytes from the project's public code and outputs:
 * - Tags: Infini-AI-Lab/Multiverse `data/refill_block.py` (ALLOWED_TAGS: Think, Parallel, Goal,
 *   Path, Conclusion, Outline) and its validator `validate_xml_structure` (the strict rules below:
 *   `<Parallel>` a child of `<Think>` or `<Path>`, `<Goal>` first, `<Conclusion>` last, at least one
 *   `<Path>`, Goal/Path/Conclusion direct children of `<Parallel>`).
 * - Fork and join: the Multiverse-Engine scheduler, read in the copy at ryogishiki-0217/Multiverse
 *   `Multiverse/inference/engine/Multiverse-Engine/sglang/python/sglang/srt/managers/schedule_batch.py`
 *   (`Req.check_finished`, `ScheduleBatch.filter_batch`) and `.../managers/scheduler.py`
 *   (`split_merge_zombie_batch_to_run`): stop at `</Goal>` (token 151670); outline numbers by
 *   `<Outline>\s*([0-9]+(?:\.[0-9]+)*)\s*:` in the text from the last `<Goal>`; each path is the
 *   context through `</Goal>` plus `\n<Path>\n{n}:`, stopped at `</Path>` (token 151674); the
 *   merge keeps each path through `</Path>` and the newline after it, then appends
 *   `<Conclusion>\n` for the model to continue. No fork when the parent-path stack is deeper than
 *   5 (so blocks nest at most 6 deep): our default depth limit. The engine's own README lists
 *   runaway nesting as an open problem; here the limit is a rail, not a crash.
 * - Whitespace inside outlines and paths: Multiverse-32B outputs in the same copy
 *   (`Multiverse/prompts/AIME24_results/*.txt`): `<Goal>\n<Outline>\n1: …\n</Outline>\n…</Goal>`,
 *   `<Path>\n1: …\n</Path>\n<Path>\n2: …`, `<Conclusion>\n…\n</Conclusion>\n</Parallel>`.
 * Not established from public material: what the engine does with a path that ends in EOS (it
 * merges it without `</Path>`); we close it with `\n</Path>` and the block goes on.
 */
import { labelled, numbersAfter, type BlockContent, type Dialect, type ForkBlock, type ForkTree } from './dialect.js';
import { depthOf, descendants, innerText, scanElements, strayTextAt, type Element } from './elements.js';
import {
  elementBlock,
  elementThread,
  numberingViolations,
  strayOutside,
  thinkViolations,
  unclosedViolations,
} from './element-rules.js';
import type { Violation } from './validate.js';
import { FormatError } from './errors.js';

const NAMES = ['Think', 'Parallel', 'Goal', 'Outline', 'Path', 'Conclusion'] as const;
const tag = (name: string) => `<${name}>`;
const close = (name: string) => `</${name}>`;
const OUTLINE_RE = /<Outline>\s*([0-9]+(?:\.[0-9]+)*)\s*:/g;

/** The engine forks while the parent-path stack has at most 5 entries: blocks nest 6 deep. */
export const MULTIVERSE_MAX_DEPTH = 6;

const count = (text: string, s: string) => text.split(s).length - 1;

export function multiverse(options: { maxDepth?: number | undefined; maxThreads?: number | undefined } = {}): Dialect {
  const maxDepth = options.maxDepth ?? MULTIVERSE_MAX_DEPTH;
  return {
    name: 'multiverse',
    title: 'Multiverse',
    tags: NAMES.flatMap((n) => [tag(n), close(n)]),
    think: { open: '<Think>', close: '</Think>' },
    forkTrigger: '</Goal>',
    plan: (text) => numbersAfter(text, '<Goal>', OUTLINE_RE),
    threadPrompt: (label) => `\n<Path>\n${label}:`,
    threadStop: '</Path>',
    // A path that writes a nested block itself (past the depth limit) closes its own paths first.
    closesThread: (text) => count(text, '</Path>') > count(text, '<Path>'),
    // The newline after each `</Path>` is part of the next header, so every header is the prompt.
    joinHeader: (label) => `\n<Path>\n${label}:`,
    threadCloser: '\n</Path>',
    joinEnd: '\n<Conclusion>\n',
    blockCloser: '\n</Parallel>',
    threadEos: 'close',
    nestable: true,
    limits: { maxDepth, maxThreads: options.maxThreads ?? 50, maxBlocks: null, maxThreadTokens: null },
    parse,
    validate: (text) => validate(text, maxDepth),
    renderBlock,
  };
}

function parse(text: string): ForkTree {
  const { root } = scanElements(text, NAMES);
  return { source: text, blocks: blocksUnder(root, text, 1) };
}

function blocksUnder(el: Element, text: string, depth: number): ForkBlock[] {
  return descendants(el, 'Parallel', ['Parallel']).map((p) => toBlock(p, text, depth));
}

function toBlock(p: Element, text: string, depth: number): ForkBlock {
  const goal = p.children.find((c) => c.name === 'Goal');
  const conclusion = p.children.find((c) => c.name === 'Conclusion');
  return elementBlock(p, depth, {
    plan: goal ? descendants(goal, 'Outline').map((o) => labelled(innerText(text, o))) : [],
    threads: p.children
      .filter((c) => c.name === 'Path')
      .map((path) => elementThread(text, path, blocksUnder(path, text, depth + 1))),
    reduce: conclusion
      ? { start: conclusion.start, end: conclusion.end, text: innerText(text, conclusion).trim() }
      : null,
  });
}

function validate(text: string, maxDepth: number): Violation[] {
  const { root, strays } = scanElements(text, NAMES);
  const out: Violation[] = [...thinkViolations(root, strays, 'Think'), ...unclosedViolations(root, 'Think')];
  for (const s of strays)
    if (s.name !== 'Think')
      out.push({ code: 'tag-unmatched', offset: s.start, message: `${close(s.name)} without an open ${tag(s.name)}` });
  const hasThink = root.children.some((c) => c.name === 'Think');

  const walk = (el: Element) => {
    for (const c of el.children) {
      const parent = c.parent!.name;
      if (c.name === 'Parallel') {
        if (parent === '' && !hasThink)
          out.push({ code: 'parallel-outside-think', offset: c.start, message: '<Parallel> outside the <Think> span' });
        else if (parent !== 'Think' && parent !== 'Path')
          out.push({
            code: 'tag-misplaced',
            offset: c.start,
            message: `<Parallel> inside <${parent || 'the text'}> (it belongs in <Think> or a <Path>)`,
          });
        const depth = depthOf(c, 'Parallel') + 1;
        if (depth > maxDepth)
          out.push({
            code: 'nesting-depth',
            offset: c.start,
            message: `a block nested ${depth} deep (limit ${maxDepth})`,
          });
        checkBlock(text, c, out);
      } else if (['Goal', 'Path', 'Conclusion'].includes(c.name) && parent !== 'Parallel') {
        out.push({ code: 'tag-misplaced', offset: c.start, message: `<${c.name}> outside a <Parallel> block` });
      } else if (c.name === 'Outline' && parent !== 'Goal') {
        out.push({ code: 'tag-misplaced', offset: c.start, message: '<Outline> outside a <Goal>' });
      } else if (c.name === 'Think' && parent !== '') {
        out.push({ code: 'tag-misplaced', offset: c.start, message: `<Think> inside <${parent}>` });
      }
      walk(c);
    }
  };
  walk(root);
  return out.sort((a, b) => a.offset - b.offset);
}

function checkBlock(text: string, p: Element, out: Violation[]): void {
  const kids = p.children;
  let cursor = p.openEnd;
  for (const c of kids) {
    const stray = strayTextAt(text, cursor, c.start);
    if (stray >= 0)
      out.push({
        code: 'block-order',
        offset: stray,
        message: 'text in a <Parallel> block outside its <Goal>, paths and <Conclusion>',
      });
    cursor = c.end;
    if (!['Goal', 'Path', 'Conclusion'].includes(c.name))
      out.push({
        code: 'tag-misplaced',
        offset: c.start,
        message: `<${c.name}> directly inside <Parallel> (only <Goal>, <Path>, <Conclusion>)`,
      });
  }
  const tail = strayTextAt(text, cursor, p.closeStart);
  if (tail >= 0)
    out.push({
      code: 'block-order',
      offset: tail,
      message: 'text in a <Parallel> block outside its <Goal>, paths and <Conclusion>',
    });

  const goals = kids.filter((c) => c.name === 'Goal');
  const paths = kids.filter((c) => c.name === 'Path');
  const conclusions = kids.filter((c) => c.name === 'Conclusion');
  if (goals.length !== 1 || kids[0]?.name !== 'Goal')
    out.push({
      code: 'block-children',
      offset: p.start,
      message: `a block needs exactly one <Goal>, first (found ${goals.length})`,
    });
  if (conclusions.length !== 1 || (p.closed && kids[kids.length - 1]?.name !== 'Conclusion')) {
    out.push({
      code: 'block-children',
      offset: p.start,
      message: `a block needs exactly one <Conclusion>, last (found ${conclusions.length})`,
    });
  }
  if (paths.length === 0) out.push({ code: 'thread-missing', offset: p.start, message: 'block has no <Path>' });
  const outlines = goals[0] ? descendants(goals[0], 'Outline') : [];
  if (goals[0]) {
    const stray = strayOutside(text, goals[0], outlines);
    if (stray >= 0) out.push({ code: 'block-order', offset: stray, message: 'text in a <Goal> outside its outlines' });
  }
  out.push(
    ...numberingViolations(text, outlines, paths, {
      plan: 'outline',
      thread: 'path',
      planFormat: 'outline-format',
      planNumbering: 'outline-numbering',
      count: 'outline-count',
      maxThreads: 50,
    }),
  );
}

function renderBlock(block: BlockContent): string {
  if (block.plan === null) throw new FormatError('multiverse blocks need a plan (outlines)');
  const outlines = block.plan.map((o, i) => `<Outline>\n${i + 1}: ${o}\n</Outline>\n`).join('');
  const paths = block.threads.map((t, i) => `<Path>\n${i + 1}: ${t}\n</Path>\n`).join('');
  return `<Parallel>\n<Goal>\n${outlines}</Goal>\n${paths}<Conclusion>\n${block.reduce ?? ''}\n</Conclusion>\n</Parallel>`;
}
