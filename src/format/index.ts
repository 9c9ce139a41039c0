export * from './tags.js';
export type * from './tree.js';
export { parseTrajectory } from './parse.js';
export { renderTree, formatBlock, type BlockSpec } from './render.js';
export { outlineNumbers } from './outlines.js';
export { validateTrajectory, isValidTrajectory, type Violation, type ViolationCode } from './validate.js';
