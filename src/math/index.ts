/** Public surface of the maths answer grader (see docs/grading.md). */
export {
  answerOf,
  answerRegion,
  EXTRACT_POLICIES,
  extractAnswer,
  extractBoxedAll,
  type BoxSpan,
  type ExtractPolicy,
} from './extract.js';
export { mathSpans, statedAnswer, type MathSpan } from './answer-line.js';
export { normalizeAnswer } from './normalize.js';
export { parseStructure, type AnswerNode, type RelationOp } from './structure.js';
export {
  DEFAULT_GRADE_OPTIONS,
  GRADER_VERSION,
  gradeAnswer,
  isEquivalent,
  type GradeFn,
  type GradeOptions,
  type GradeResult,
} from './grade.js';
export { GradeTimeout } from './deadline.js';
export {
  gradeCases,
  parseGradingCases,
  readGradingCases,
  type CaseReport,
  type Disagreement,
  type GradingCase,
} from './cases.js';
