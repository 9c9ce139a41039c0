import { TAG, threadHeader } from './tags.js';
import type { ParallelBlock, TrajectoryTree } from './tree.js';
import { FormatError } from './errors.js';

/** Render a parsed tree back to text: byte-identical to what was parsed. */
export function renderTree(tree: TrajectoryTree): string {
  return tree.segments.map((s) => (s.kind === 'sequential' ? s.text : renderParsedBlock(s))).join('');
}

function renderParsedBlock(block: ParallelBlock): string {
  return TAG.parallelOpen + block.parts.map((p) => p.raw).join('') + (block.closed ? TAG.parallelClose : '');
}

export interface BlockSpec {
  /** Outline texts, numbered 1..k in order. */
  outlines: readonly string[];
  /** Thread texts (without number or tags), one per outline. */
  threads: readonly string[];
}

/**
 * The canonical bytes of one block as the model is trained to write it and the controller joins
 * it: outlines one per line, `</Thread><Thread>` with nothing between, `\n</Parallel>` at the end.
 * Starts at `<Parallel>` and ends after `</Parallel>` (no trailing newline).
 */
export function formatBlock(spec: BlockSpec): string {
  if (spec.outlines.length !== spec.threads.length) {
    throw new FormatError(`formatBlock: ${spec.outlines.length} outlines but ${spec.threads.length} threads`);
  }
  const outlines = spec.outlines.map((o, i) => `${TAG.outlineOpen}${i + 1}: ${o}${TAG.outlineClose}\n`).join('');
  const threads = spec.threads
    .map((t, i) => `${threadHeader(String(i + 1), i === 0)} ${t}\n${TAG.threadClose}`)
    .join('');
  return `${TAG.parallelOpen}\n${TAG.outlinesOpen}\n${outlines}${TAG.outlinesClose}${threads}\n${TAG.parallelClose}`;
}
