import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasSharedFile, sharedDir } from '../support/helpers.js';
import { gradeCases, readGradingCases } from '../../src/math/cases.js';
import { gradeAnswer, isEquivalent } from '../../src/math/grade.js';

const casesFile = path.join(sharedDir, 'grading/equivalence-cases.jsonl');
const hasShared = hasSharedFile('grading/equivalence-cases.jsonl', 'the shared equivalence cases');

/** Assert a verdict and show the grader's reason when it is wrong. */
function expectGrade(pred: string | null, gold: string, equal: boolean): void {
  const verdict = gradeAnswer(pred, gold);
  expect(verdict.equal, `${pred} vs ${gold}: ${verdict.reason}`).toBe(equal);
}

describe.skipIf(!hasShared)('shared equivalence cases', () => {
  it('agrees with all 113 expected verdicts', async () => {
    const cases = await readGradingCases(casesFile);
    expect(cases).toHaveLength(113);
    const report = gradeCases(cases);
    expect(report.disagreements).toEqual([]);
    expect(report.agree).toBe(113);
  });
});

// One block per policy in docs/grading.md, in the same order.
describe('grading policies', () => {
  it('percent: the sign is dropped on both sides, with no x100 leniency', () => {
    expectGrade('50\\%', '50', true);
    expectGrade('28 percent', '28\\%', true);
    expectGrade('50\\%', '0.5', false);
    expectGrade('0.5', '50\\%', false);
  });

  it('numeric tolerance: exact for integers and fractions, relative 1e-6 when a side is a decimal', () => {
    expectGrade('0.333333', '\\frac13', true);
    expectGrade('0.3333', '\\frac13', false);
    expectGrade('\\sqrt{50}', '7.0710678', true);
    expectGrade('\\sqrt{50}', '7.07', false);
    expectGrade('1000001', '1000000', false);
    expectGrade('1000000.5', '1000000', true);
    expect(gradeAnswer('0.3333', '\\frac13', { relTol: 1e-3 }).equal).toBe(true);
  });

  it('exactness beyond doubles: large integers and powers are compared exactly', () => {
    expectGrade('99999999999999999999', '100000000000000000000', false);
    expectGrade('2^{100}', '2^{100}+1', false);
    expectGrade('2^{100}', '1267650600228229401496703205376', true);
  });

  it('unreduced fractions equal their reduced value', () => {
    expectGrade('\\frac{2}{4}', '\\frac12', true);
    expectGrade('2/4', '0.5', true);
    expectGrade('\\frac{-1}{2}', '-\\frac{1}{2}', true);
  });

  it('integers compare by value, so zero padding does not matter', () => {
    expectGrade('25', '025', true);
    expectGrade('007', '7', true);
    expectGrade('5.00', '5', true);
  });

  it('thousands separators only when the whole answer is one grouped number', () => {
    expectGrade('7,425,000', '7425000', true);
    expectGrade('1\\,000', '1000', true);
    expectGrade('32, 349', '32349', false);
    expectGrade('1,2,3', '123', false);
  });

  it('bare comma lists (root lists) are unordered multisets', () => {
    expectGrade('3, -1', '-1, 3', true);
    expectGrade('2, 2, 3', '2, 3', false);
    expectGrade('2, 3', '2, 3, 4', false);
  });

  it('tuples are ordered; with two items the brackets decide the interval', () => {
    expectGrade('(3, -1)', '(-1, 3)', false);
    expectGrade('(1, 2]', '(1, 2)', false);
    expectGrade('\\left[1,\\frac{5}{2}\\right)', '[1, 2.5)', true);
    expectGrade('(1,2,3)', '(1,2,3)', true);
  });

  it('sets ignore order and repetition, but a set is not a tuple', () => {
    expectGrade('\\{3,1,2\\}', '\\{1,2,3\\}', true);
    expectGrade('\\{2,2,3\\}', '\\{2,3\\}', true);
    expectGrade('\\{1,3\\}', '(3,1)', false);
    expectGrade('\\emptyset', '\\{\\}', true);
    expectGrade('\\pm 3', '3, -3', true);
  });

  it('unions of intervals ignore order', () => {
    expectGrade('(3,4)\\cup(1,2)', '(1,2)\\cup(3,4)', true);
    expectGrade('(3,4]\\cup(1,2)', '(1,2)\\cup(3,4)', false);
  });

  it('matrices compare shape and entries, whatever the environment', () => {
    expectGrade(
      '\\begin{bmatrix}1 & \\frac12 \\\\ 3 & 4\\end{bmatrix}',
      '\\begin{pmatrix}1 & 0.5 \\\\ 3 & 4\\end{pmatrix}',
      true,
    );
    expectGrade('\\begin{pmatrix}1 & 2\\end{pmatrix}', '\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}', false);
  });

  it('a sum, difference or product of matrices written out is the matrix it makes (Math-Verify test_matrix_extraction)', () => {
    const m = (rows: string) => `\\begin{pmatrix}${rows}\\end{pmatrix}`;
    expectGrade(`${m('1 & 2 \\\\ 3 & 4')} + ${m('5 & 6 \\\\ 7 & 8')}`, m('6 & 8 \\\\ 10 & 12'), true);
    expectGrade(`${m('1 & 2 \\\\ 3 & 4')} - ${m('1 & 1 \\\\ 1 & 1')}`, m('0 & 1 \\\\ 2 & 3'), true);
    expectGrade(`${m('1 & 2 \\\\ 3 & 4')} ${m('0 & 1 \\\\ 1 & 0')}`, m('2 & 1 \\\\ 4 & 3'), true);
    expectGrade(`${m('1 & 2')} \\cdot ${m('3 \\\\ 4')}`, m('11'), true);
    expectGrade(`${m('1 & 2 \\\\ 3 & 4')} + ${m('5 & 6 \\\\ 7 & 8')}`, m('6 & 8 \\\\ 10 & 13'), false);
    // Shapes that do not fit make no matrix.
    expectGrade(`${m('1 & 2')} + ${m('1 \\\\ 2')}`, m('2 & 4'), false);
  });

  it('pi is a number: exact forms agree, decimals need the tolerance, degrees are not radians', () => {
    expectGrade('\\pi/2', '\\frac{\\pi}{2}', true);
    expectGrade('3.14159265', '\\pi', true);
    expectGrade('3.1416', '\\pi', false);
    expectGrade('\\frac{\\pi}{2}', '90^\\circ', false);
  });

  it('degree marks are dropped', () => {
    expectGrade('30^{\\circ}', '30', true);
    expectGrade('30°', '30', true);
  });

  it('units after a value are dropped', () => {
    expectGrade('5 \\text{ cm}^2', '5', true);
    expectGrade('10 meters', '10', true);
    expectGrade('64 square feet', '64', true);
    expectGrade('\\$5.50', '5.5', true);
  });

  it('units with negative or braced powers, and products or quotients of units, are dropped', () => {
    expectGrade('3.2\\times10^{-4}\\,\\text{m}^{-1}', '3.2\\times 10^{-4}', true);
    expectGrade('5\\ \\text{s}^{-1}', '5', true);
    expectGrade('9.8\\,\\text{m}\\cdot\\text{s}^{-2}', '9.8', true);
    expectGrade('9.8\\,\\text{m}/\\text{s}^{2}', '9.8', true);
    expectGrade('1.5 \\mathrm{~s}', '1.5', true);
    expectGrade('1.2\\times10^{3}\\ \\mathrm{kg\\,m^{-3}}', '1200', true);
    expectGrade('6.2\\times10^{3}\\,\\text{m}^{-1}', '6.3\\times10^{3}', false);
    expectGrade('12 integers', '12', true);
    // A lone word is an answer, not a unit.
    expectGrade('\\text{seconds}', 'seconds', true);
    expectGrade('\\text{m}', '5', false);
  });

  it('an assignment is unwrapped only when the other side is not an equation', () => {
    expectGrade('x = 3', '3', true);
    expectGrade('3', 'x=3', true);
    expectGrade('(p,q)=(3,2)', '(3,2)', true);
    expectGrade('1', '2x + z = 1', false);
    expectGrade('k = 1', 'n = 1', false);
  });

  it('a label on the left of = is not part of the answer', () => {
    expectGrade('\\boxed{AB = 7}', '7', true);
    expectGrade('\\overline{CD}=12', '12', true);
    expectGrade('|PQ|=3\\sqrt2', '3\\sqrt{2}', true);
    expectGrade('f^{-1}(x)=\\frac{x+3}{4}', '\\frac{x+3}{4}', true);
    expectGrade("g'(x)=6x-2", '6x-2', true);
    expectGrade('\\tan\\alpha=\\frac34', '0.75', true);
    expectGrade('\\text{Area}=36', '36', true);
    expectGrade('m\\angle ABC = 40^\\circ', '40', true);
    expectGrade('P(A) = \\frac{1}{6}', '\\frac16', true);
    expectGrade('V_1:V_2=11:21', '11:21', true);
    expectGrade('36', '\\text{Area}=36', true);
    // Lists of labelled items, either way round.
    expectGrade('AB=5, BC=9', '5, 9', true);
    expectGrade('5, 9', 'AB=5, BC=9', true);
    expectGrade('x = 1, y = 2', '(1, 2)', true);
    expectGrade('x = 2 \\text{ or } x = 3', '2, 3', true);
    expectGrade('S_{10} = 55', '55', true);
    expectGrade('\\sum_{k=1}^{10} k = 55', '55', true);
    expectGrade('AB = 7\\text{ cm}', '7', true);
    // The same label decorated differently; different labels still differ.
    expectGrade('\\overline{AB} = 7', 'AB = 7', true);
    expectGrade('AB = 7', 'BC = 7', false);
    // Negatives: the value still has to match, and an expression on the left is part of the answer.
    expectGrade('AB = 8', '9', false);
    expectGrade('AB=5, BC=9', '5, 8', false);
    expectGrade('\\overline{CD}=13', '12', false);
    expectGrade('1', 'a^2 + b = 1', false);
    expectGrade('0', 'a + 3z = 0', false);
    expectGrade('11a+c', '7 = 11a+c', false);
    expectGrade('4', 'x^2 = 4', false);
    expectGrade('6', '2y = 6', false);
    expectGrade('x = 2', '2, 3', false);
    expectGrade('r = 5', 'r^2 = 25', false);
    expectGrade('y = 2x + 3', 'y = 2x + 4', false);
  });

  it('groups of labelled values separated by ; are tuples (Math-Verify test_numina_cases)', () => {
    expectGrade('(5,2),(7,2)', 'p=5,q=2;p=7,q=2', true);
    expectGrade('(7,2),(5,2)', 'p=5,q=2;p=7,q=2', true);
    expectGrade('(2,5),(7,2)', 'p=5,q=2;p=7,q=2', false);
    // A plain ; list stays a list.
    expectGrade('-12, -11', '-12;-11', true);
  });

  it('an approximation after \\approx does not replace the exact value', () => {
    expectGrade('\\frac{40}{3} \\approx 13.33', '\\frac{40}{3}', true);
    expectGrade('x=\\frac27\\approx0.29', '\\frac27', true);
    expectGrade('\\approx 13.33', '13.33', true);
    expectGrade('x \\approx 11', '11', true);
    expectGrade('\\frac{\\sqrt{3}}{3} \\approx 0.577', '\\frac{\\sqrt{3}}{3}', true);
    expectGrade('\\frac{\\sqrt{3}}{3}', '\\frac{\\sqrt{3}}{3} \\approx 0.577', true);
    expectGrade('x = 5+5+1 = 1/3 \\approx 11', 'x = 1/3', true);
    // Against a gold written as a decimal, the approximation may match instead.
    expectGrade('\\frac{40}{3} \\approx 13.33', '13.33', true);
    // Negatives: a wrong exact value is wrong whatever its approximation, and an exact gold needs the exact value.
    expectGrade('\\frac{41}{3} \\approx 13.33', '\\frac{40}{3}', false);
    expectGrade('\\frac{40}{3} \\approx 13.33', '13.34', false);
    expectGrade('x \\approx 0.29', '\\frac27', false);
    expectGrade('2x+1 \\approx 5', '2x+1', false);
  });

  it('a chain of constants is a computation: its answer is the last member', () => {
    expectGrade('8 \\times 9 = 72', '72', true);
    expectGrade('\\frac{10}{15}=\\frac23', '\\frac23', true);
    expectGrade('x = 2+3 = 5', '5', true);
    expectGrade('72', '8 \\times 9 = 72', true);
    expectGrade('x = 5+5+1 = 7 = 11', 'x = 11', true);
    expectGrade('z = 3+3 = 2', 'z = 1 + 1 = 2', true);
    expectGrade('8 \\times 9 = 72', 'AB = 72', true);
    expectGrade('8 \\times 9 = 72', '73', false);
    expectGrade('8 \\times 9 = 72', '8', false);
    expectGrade('x = 5+5+1 = 7 = 11', 'x = 7', false);
  });

  it('a chain of three or more members ending in a number states that number (Math-Verify test_relations_math)', () => {
    expectGrade('0', '1 = \\zzz = x = 0', true);
    expectGrade('1', '1 = \\zzz = x = 0', false);
    // Two members are an equation, not a derivation.
    expectGrade('11a+c', '7 = 11a+c', false);
  });

  it('what follows the last implication arrow is the conclusion', () => {
    expectGrade('x^2 = 4 \\Rightarrow x = 2', '2', true);
    expectGrade('2x = 6 \\implies x = 3', '3', true);
    expectGrade('x^2 = 4 \\Rightarrow x = 2', '4', false);
  });

  it('equations match when proportional, inequalities when positively proportional', () => {
    expectGrade('x^2-1=0', '(x-1)(x+1)=0', true);
    expectGrade('2y = 4x + 2', 'y - 2x = 1', true);
    expectGrade('x < 5', 'x > 5', false);
    expectGrade('-2x \\ge -4', 'x \\le 2', true);
  });

  it('an inequality gold accepts an interval, but an interval gold rejects an inequality', () => {
    expectGrade('(5,\\infty)', 'x>5', true);
    expectGrade('[5,\\infty)', 'x \\ge 5', true);
    expectGrade('(5,\\infty)', 'x \\ge 5', false);
    expectGrade('x>5', '(5,\\infty)', false);
    expectGrade('-2 < x < 3', '(-2,3)', false);
  });

  it('an absolute value bounded by numbers is the intervals it describes (Math-Verify test_numina_cases)', () => {
    const union = 'z \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2}\\right]';
    expectGrade(union, '1\\leq|z|\\leq \\frac{3}{2}', true);
    expectGrade('(-3, 3)', '|x| < 3', true);
    expectGrade('(-\\infty, -2) \\cup (2, \\infty)', '|x| > 2', true);
    expectGrade('[-3, 3]', '|x| < 3', false);
    expectGrade('[1, \\frac{3}{2}]', '1\\leq|z|\\leq \\frac{3}{2}', false);
    expectGrade('(-1, -0.5) \\cup (0.5, 1)', '0.5 < |x| < 1', true);
  });

  it('mixed numbers', () => {
    expectGrade('2\\frac{1}{3}', '\\frac{7}{3}', true);
    expectGrade('7 3/4', '31/4', true);
    expectGrade('+11 5/6', '71/6', true);
    expectGrade('-4 4/9', '-40/9', true);
    // Plain-text forms with an improper fraction or a zero denominator are not read as numbers.
    expectGrade('11 6/6', '11', false);
    expectGrade('11 6/6', '12', false);
    expectGrade('4 4/0', '4', false);
    expectGrade('11 6/6', '11 6/6', true);
  });

  it('text answers: words ignore case, single letters do not', () => {
    expectGrade('\\text{odd}', '\\text{Odd}', true);
    expectGrade('\\textbf{even}', 'odd', false);
    expectGrade('A', 'a', false);
    expectGrade('(A)', '\\text{A}', true);
  });

  it('"and" / "or" separate list items', () => {
    expectGrade('1 \\text{ and } 2', '2, 1', true);
    expectGrade('-3 or 3', '\\pm3', true);
  });

  it('escaping slips: doubled backslashes before commands and a stray trailing backslash', () => {
    expectGrade('\\\\frac{1}{2}', '0.5', true);
    expectGrade('-2 \\\\le x \\\\le 7', '-2 \\le x \\le 7', true);
    expectGrade('185\\', '185', true);
    // A matrix row break before a command keeps its meaning.
    expectGrade('\\begin{pmatrix}1 \\\\\\frac12\\end{pmatrix}', '\\begin{pmatrix}1 \\\\ 0.5\\end{pmatrix}', true);
  });

  it('e-notation and Python spellings are numbers', () => {
    expectGrade('1.0e6', '10^6', true);
    expectGrade('1e-3', '0.001', true);
    expectGrade('-\\frac{1}{3}', '-1./3', true);
  });

  it('brace-less arguments run into \\frac and \\sqrt are read as Minerva and the MATH graders read them', () => {
    expectGrade('\\fracab', '\\frac{a}{b}', true);
    expectGrade('\\fracabc', '\\frac{a}{b}c', true);
    expectGrade('\\dfrac1b', '\\frac{1}{b}', true);
    expectGrade('\\sqrta', '\\sqrt{a}', true);
    expectGrade('\\sqrtab', '\\sqrt{a}b', true);
    expectGrade('\\fracab', '\\frac{b}{a}', false);
  });

  it('symbolic equivalence, including complex numbers and functions', () => {
    expectGrade('\\frac{x^2-1}{x-1}', 'x+1', true);
    expectGrade('\\sin^2 x + \\cos^2 x', '1', true);
    expectGrade('\\log_2 8', '3', true);
    expectGrade('\\sqrt{-4}', '2i', true);
    expectGrade('e^{i\\pi}', '-1', true);
    expectGrade('\\sqrt[3]{-8}', '-2', true);
    expectGrade('\\tan^{-1}(1)', '\\frac{\\pi}{4}', true);
    expectGrade('\\sum_{k=1}^{10} k', '55', true);
    expectGrade('\\binom{10}{3}', '120', true);
    expectGrade('x^2+1', 'x^2-1', false);
  });
});

describe('grading limits', () => {
  it('no answer is never equal', () => {
    expect(gradeAnswer(null, '5')).toEqual({ equal: false, reason: 'no answer' });
    expect(gradeAnswer('I give up', '5').equal).toBe(false);
    expect(gradeAnswer('<think>maybe \\boxed{5}', '5')).toEqual({ equal: false, reason: 'no answer' });
    expect(gradeAnswer('5', '').equal).toBe(false);
  });

  it('a spent time budget counts as not equal', () => {
    // Needs the numeric tier, which checks the budget before each sample point.
    expect(gradeAnswer('(x+1)^2', 'x^2+2x+1').equal).toBe(true);
    const verdict = gradeAnswer('(x+1)^2', 'x^2+2x+1', { timeLimitMs: 0 });
    expect(verdict.equal).toBe(false);
    expect(verdict.reason).toMatch(/^timeout/);
    // The compute-engine tier (the fast reader leaves \operatorname{gcd} to it) checks the budget too.
    expect(gradeAnswer('\\operatorname{gcd}(12,18)', '6').equal).toBe(true);
    expect(gradeAnswer('\\operatorname{gcd}(12,18)', '6', { timeLimitMs: 0 }).reason).toMatch(/^timeout/);
  });

  it('inputs that could stall the engine are refused, and refused means not equal', () => {
    const sum = gradeAnswer('\\sum_{k=1}^{1000000} k', '500000500000');
    expect(sum.equal).toBe(false);
    expect(sum.reason).toMatch(/refused/);
    expect(gradeAnswer('100000!', '1').reason).toMatch(/refused/);
    // The length guard applies to the engine tier (the fast reader is linear-time and needs none).
    expect(gradeAnswer('\\operatorname{gcd}(12,18)', '6', { maxLength: 10 }).reason).toMatch(/refused: longer than 10/);
  });

  it('power towers return quickly and are not equal to small numbers', () => {
    expectGrade('10^{10^{10^{10}}}', '1', false);
  });

  it('subscripted symbols are variables', () => {
    expectGrade('b_k + b_{k-1}', 'b_{k-1} + b_k', true);
    expectGrade('a_{n+1} - a_n', '-a_n + a_{n+1}', true);
    expectGrade('x_{1}x_2', 'x_2 x_1', true);
    expectGrade('b_k + b_{k-1}', 'b_k + b_{k+1}', false);
    expectGrade('b_k + b_{k-1}', 'b_k - b_{k-1}', false);
    expectGrade('a_{12}', 'a_1 2', false);
  });

  it('odd roots take the real branch, however they are written', () => {
    expectGrade('(x+4)^{1/3}', '\\sqrt[3]{x+4}', true);
    // Sampled at positive points, x - 4 < 0: the principal complex power would differ.
    expectGrade('(x-4)^{1/3}', '\\sqrt[3]{x-4}', true);
    expectGrade('(x-4)^{2/3}', '\\sqrt[3]{(x-4)^2}', true);
    expectGrade('(x-4)^{\\frac{1}{5}}', '\\sqrt[5]{x-4}', true);
    expectGrade('(-8)^{1/3}', '-2', true);
    expectGrade('(x-9)^{-1/3}', '\\frac{1}{\\sqrt[3]{x-9}}', true);
    expectGrade('(2-x)^{1/3}', '\\sqrt[3]{x-2}', false);
    expectGrade('(x-4)^{1/3}', '\\sqrt[3]{4-x}', false);
  });

  it('is not fooled by free variables with different names', () => {
    expectGrade('y^2+2y+1', 'x^2+2x+1', false);
    expectGrade('f(y)', 'f(x)', false);
  });

  it('reads a letter applied to a constant as a function value, not a product with it', () => {
    // As a product, I(0) would be 0 on both sides and the two would look equal.
    expectGrade('I(0) e^{-\\frac{t}{R C}}', 'I(0)', false);
    expectGrade('2f(1)', 'f(1)+f(1)', true);
    expectGrade('x(x+1)', 'x^2+x', true);
  });

  it('matches relations term by term when no tier can evaluate them', () => {
    expectGrade('\\left(y^{\\prime}+r y=0\\right)', 'y^{\\prime}+r y=0', true);
  });

  it('isEquivalent is the boolean form', () => {
    expect(isEquivalent('\\dfrac{3}{4}', '0.75')).toBe(true);
    expect(isEquivalent('\\frac{3}{4}', '75\\%')).toBe(false);
  });

  it('extracts the answer from whole responses on either side', () => {
    expectGrade('<think>\\boxed{3}?</think> So \\boxed{5}.', '\\boxed{5}', true);
    expectGrade('Answers: \\boxed{(1, 2)}, \\boxed{(2, 1)}', '(2,1),(1,2)', true);
  });
});
