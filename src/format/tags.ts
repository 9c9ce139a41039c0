/** The trajectory tags, spelled exactly as the model writes them. */
export const TAG = {
  thinkOpen: '<think>',
  thinkClose: '</think>',
  parallelOpen: '<Parallel>',
  parallelClose: '</Parallel>',
  outlinesOpen: '<Outlines>',
  outlinesClose: '</Outlines>',
  outlineOpen: '<Outline>',
  outlineClose: '</Outline>',
  threadOpen: '<Thread>',
  threadClose: '</Thread>',
} as const;

/** The key of a tag in TAG (`thinkOpen`, `parallelClose`, …). */
export type TagName = keyof typeof TAG;
/** Every ThreadWeaver tag, in TAG's order: the format's tags, which a checkpoint adds as tokens. */
export const ALL_TAGS: readonly string[] = Object.values(TAG);

/** Tags that may appear inside a `<Parallel>` block (the reference data filter's list). */
export const BLOCK_TAGS: readonly string[] = [
  TAG.outlinesOpen,
  TAG.outlinesClose,
  TAG.outlineOpen,
  TAG.outlineClose,
  TAG.threadOpen,
  TAG.threadClose,
];

/** The reference controller's outline rule: `<Outline>` then a (dotted) number then `:`. */
export const OUTLINE_NUMBER_RE = /<Outline>\s*(\d+(?:\.\d+)*)\s*:/g;

/** The prompt suffix the controller appends to start thread `n` (the first thread's join header too). */
export function threadPrompt(n: string): string {
  return `\n${TAG.threadOpen}\n${n}:`;
}

/** The join header of thread `n`: only the first thread of a block carries the leading newline. */
export function threadHeader(n: string, first: boolean): string {
  return first ? threadPrompt(n) : `${TAG.threadOpen}\n${n}:`;
}

/** Reference cap on outlines per block (data filter). */
export const MAX_OUTLINES = 50;
