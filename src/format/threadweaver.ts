/**
 * ThreadWeaver (arXiv 2512.07843; facebookresearch/threadweaver, README's inference state
 * machine): `<Parallel>` `<Outlines>` `<Outline>N: …</Outline>` … `</Outlines>`, one
 * `<Thread>\nN: …</Thread>` per outline, `</Parallel>`, no nesting. The bytes are the bundled
 * model's and the reference controller's (models/tiny-threadweaver/MODEL.md, "Orchestration
 * contract"): fork at `</Outlines>`, prompt `\n<Thread>\n{n}:`, join with no separator between
 * threads and `\n` after the last; the model writes `</Parallel>`.
 */
import type { BlockContent, Dialect, ForkBlock, ForkTree } from './dialect.js';
import { outlineNumbers } from './outlines.js';
import { parseTrajectory } from './parse.js';
import { formatBlock } from './render.js';
import { ALL_TAGS, MAX_OUTLINES, TAG, threadHeader, threadPrompt } from './tags.js';
import type { TrajectoryTree } from './tree.js';
import { validateTrajectory } from './validate.js';
import { FormatError } from './errors.js';

/** The fork tree of a parsed ThreadWeaver trajectory (tags `<Parallel>`/`</Parallel>` count as sequential text). */
export function threadweaverForkTree(tree: TrajectoryTree): ForkTree {
  const blocks: ForkBlock[] = tree.blocks.map((blk) => ({
    start: blk.start,
    end: blk.end,
    innerStart: blk.start + TAG.parallelOpen.length,
    innerEnd: blk.closed ? blk.end - TAG.parallelClose.length : blk.end,
    closed: blk.closed,
    plan: blk.outlines.map((o) => ({ label: o.number, text: o.text })),
    threads: blk.threads.map((t) => ({
      start: t.start,
      end: t.end,
      bodyStart: t.start + TAG.threadOpen.length,
      bodyEnd: t.closed ? t.end - TAG.threadClose.length : t.end,
      label: t.number,
      text: t.text,
      closed: t.closed,
      blocks: [],
    })),
    reduce: null,
    depth: 1,
  }));
  return { source: tree.source, blocks };
}

export const threadweaver: Dialect = {
  name: 'threadweaver',
  title: 'ThreadWeaver',
  tags: ALL_TAGS,
  think: { open: TAG.thinkOpen, close: TAG.thinkClose },
  forkTrigger: TAG.outlinesClose,
  plan: outlineNumbers,
  threadPrompt,
  threadStop: TAG.threadClose,
  // Inside a thread only </Thread> ends it: other tags are literal content (reference rule).
  closesThread: () => true,
  joinHeader: (label, index) => threadHeader(label, index === 0),
  threadCloser: `\n${TAG.threadClose}`,
  joinEnd: '\n',
  blockCloser: `\n${TAG.parallelClose}`,
  // Reference rule: EOS inside a thread closes the tags and ends the run.
  threadEos: 'end',
  nestable: false,
  limits: { maxDepth: 1, maxThreads: MAX_OUTLINES, maxBlocks: null, maxThreadTokens: null },
  parse: (text) => threadweaverForkTree(parseTrajectory(text)),
  validate: (text) => validateTrajectory(text),
  renderBlock: (block: BlockContent) => {
    if (block.plan === null) throw new FormatError('threadweaver blocks need a plan (outlines)');
    return formatBlock({ outlines: block.plan, threads: block.threads });
  },
};
