export * from './tags.js';
export type * from './tree.js';
export { parseTrajectory } from './parse.js';
export { renderTree, formatBlock, type BlockSpec } from './render.js';
export { outlineNumbers } from './outlines.js';
export { validateTrajectory, isValidTrajectory, type Violation, type ViolationCode } from './validate.js';
export { lenientViolations, isLenientFormat } from './lenient.js';
export {
  DIALECT_NAMES,
  flattenBlocks,
  type Dialect,
  type DialectName,
  type DialectLimits,
  type ForkTree,
  type ForkBlock,
  type ForkThread,
  type PlanItem,
  type BlockContent,
} from './dialect.js';
export {
  resolveDialect,
  parseFormatSpec,
  formatSpecText,
  DEFAULT_FORMAT,
  threadweaver,
  multiverse,
  parallelR1,
  npr,
  type FormatSpec,
} from './dialects.js';
export { convertTrajectory, type Conversion, type ConvertOptions } from './convert.js';
