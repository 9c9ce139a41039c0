/**
 * Parallel-R1 (arXiv 2509.07980). Bytes from zhengkid/Parallel-R1:
 * - Fork and join: `code/verl/verl/parallel_thinking_generation_v3/parallel_thinking_loop_v3.py`
 *   (the rollout agent loop `parallel_thinking_agent_v3`): decode until `<Parallel>` (a stop token);
 *   start `num_paths` paths (a config value; 2 in the paper's runs) from the same context plus
 *   `<Path>`, each stopped at `</Path>` with its own seed; a path that ends in EOS has the EOS
 *   replaced by `</Path>` and one cut by `max_path_response_length` gets `</Path>` appended, and
 *   the block goes on; the join is every `<Path>…</Path>` back to back, then `</Parallel>`, `\n`,
 *   `<Summary>`; the model writes the summary and `</Summary>` and decoding goes on.
 * - Strict rules: `code/verl/build/lib/verl/utils/reward_score/math_dapo_accuracy_format_parallel.py`
 *   (`check_parallel_thinking_format`): balanced tags, at least 2 paths per block, a `<Summary>`
 *   right after every `</Parallel>`, as many summaries as blocks.
 * Not established from public material we could read: the training prompt (the repo's prompt
 * templates are not in it) and what the model writes at the start of a path. The agent loop
 * samples paths at temperature 1.0 whatever the request says; we sample them as the run does.
 */
import type { BlockContent, Dialect, ForkBlock, ForkTree } from './dialect.js';
import { allElements, elementBlock, elementThread, strayOutside, unclosedViolations } from './element-rules.js';
import { descendants, innerText, scanElements, strayTextAt, type Element } from './elements.js';
import type { Violation } from './validate.js';

const NAMES = ['Parallel', 'Path', 'Summary'] as const;
const count = (text: string, s: string) => text.split(s).length - 1;

/** Paths per block in the paper's runs (the agent loop's `num_paths`). */
export const PARALLEL_R1_PATHS = 2;

export interface ParallelR1Options {
  /** Paths started at every `<Parallel>` (default 2). */
  paths?: number | undefined;
  /** Blocks per run (default: no limit besides the transition cap). */
  maxBlocks?: number | null;
  /** Tokens one path may generate before it is closed (the loop's `max_path_response_length`; default none). */
  maxThreadTokens?: number | null;
}

/**
 * The Parallel-R1 format, which starts `paths` threads (default 2) at every `<Parallel>`, with no
 * plan and a `<Summary>` after each block. A `paths` below 1 or not whole is refused.
 */
export function parallelR1(options: ParallelR1Options = {}): Dialect {
  const paths = options.paths ?? PARALLEL_R1_PATHS;
  if (!Number.isInteger(paths) || paths < 1)
    throw new RangeError(`parallel-r1: paths must be a whole number ≥ 1 (got ${paths})`);
  const labels = Array.from({ length: paths }, (_, i) => String(i + 1));
  return {
    name: 'parallel-r1',
    title: 'Parallel-R1',
    tags: NAMES.flatMap((n) => [`<${n}>`, `</${n}>`]),
    think: null,
    forkTrigger: '<Parallel>',
    // The width is fixed: every `<Parallel>` starts the same number of paths.
    plan: () => [...labels],
    threadPrompt: () => '<Path>',
    threadStop: '</Path>',
    closesThread: (text) => count(text, '</Path>') > count(text, '<Path>'),
    joinHeader: () => '<Path>',
    threadCloser: '</Path>',
    joinEnd: '</Parallel>\n<Summary>',
    blockCloser: '</Parallel>',
    threadEos: 'close',
    nestable: false,
    limits: {
      maxDepth: 1,
      maxThreads: paths,
      maxBlocks: options.maxBlocks ?? null,
      maxThreadTokens: options.maxThreadTokens ?? null,
    },
    parse,
    validate,
    renderBlock,
  };
}

function parse(text: string): ForkTree {
  const { root } = scanElements(text, NAMES);
  return { source: text, blocks: blocksUnder(root, text, 1) };
}

function blocksUnder(el: Element, text: string, depth: number): ForkBlock[] {
  return descendants(el, 'Parallel', ['Parallel']).map((p) => {
    const summary = summaryAfter(text, p);
    return elementBlock(p, depth, {
      plan: null,
      // Paths carry no number: they are labelled by their order.
      threads: p.children
        .filter((c) => c.name === 'Path')
        .map((path, i) => elementThread(text, path, blocksUnder(path, text, depth + 1), String(i + 1))),
      reduce: summary ? { start: summary.start, end: summary.end, text: innerText(text, summary).trim() } : null,
    });
  });
}

/** The `<Summary>` that follows a block with only whitespace between, if any. */
function summaryAfter(text: string, p: Element): Element | undefined {
  const siblings = p.parent!.children;
  const next = siblings[siblings.indexOf(p) + 1];
  return next?.name === 'Summary' && strayTextAt(text, p.end, next.start) < 0 ? next : undefined;
}

function validate(text: string): Violation[] {
  const { root, strays } = scanElements(text, NAMES);
  const out: Violation[] = unclosedViolations(root);
  for (const s of strays)
    out.push({ code: 'tag-unmatched', offset: s.start, message: `</${s.name}> without an open <${s.name}>` });
  for (const el of allElements(root)) {
    if (el.name === 'Parallel') {
      const paths = el.children.filter((c) => c.name === 'Path');
      // The agent loop joins paths back to back: no text between them.
      const stray = strayOutside(text, el, paths);
      if (stray >= 0)
        out.push({ code: 'block-order', offset: stray, message: 'text in a <Parallel> block outside its paths' });
      if (el.closed && paths.length < 2)
        out.push({
          code: 'thread-count',
          offset: el.start,
          message: `a block with ${paths.length} <Path> (at least 2)`,
        });
      if (el.closed && !summaryAfter(text, el))
        out.push({ code: 'reduce-missing', offset: el.end, message: 'no <Summary> right after </Parallel>' });
    } else if (el.name === 'Path' && el.parent!.name !== 'Parallel') {
      out.push({ code: 'tag-misplaced', offset: el.start, message: '<Path> outside a <Parallel> block' });
    } else if (el.name === 'Summary') {
      const siblings = el.parent!.children;
      const prev = siblings[siblings.indexOf(el) - 1];
      if (!(prev?.name === 'Parallel' && prev.closed && strayTextAt(text, prev.end, el.start) < 0)) {
        out.push({ code: 'tag-misplaced', offset: el.start, message: '<Summary> not right after a </Parallel>' });
      }
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

function renderBlock(block: BlockContent): string {
  const paths = block.threads.map((t) => `<Path>${t}</Path>`).join('');
  return `<Parallel>${paths}</Parallel>\n<Summary>${block.reduce ?? ''}</Summary>`;
}
