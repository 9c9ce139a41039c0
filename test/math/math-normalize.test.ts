import { describe, expect, it } from 'vitest';
import { normalizeAnswer } from '../../src/math/normalize.js';
import { isLabel, parseStructure, statement, type Relation } from '../../src/math/structure.js';
import { parseNumber } from '../../src/math/number.js';

describe('normalizeAnswer', () => {
  const cases: Array<[string, string]> = [
    ['7,425,000', '7425000'],
    ['1,000.99', '1000.99'],
    ['11,\\! 111,\\! 111,\\! 100', '11111111100'],
    ['14{,}916', '14916'],
    ['1 000', '1000'],
    ['1,2,3', '1,2,3'],
    ['32, 349', '32, 349'],
    ['\\$16,\\!386.20', '16386.20'],
    ['$\\frac{1}{2}$', '\\frac{1}{2}'],
    ['\\(x+1\\)', 'x+1'],
    ['\\dfrac{1}{3}', '\\frac{1}{3}'],
    ['\\tfrac12', '\\frac12'],
    ['\\left( \\frac{1}{3} \\right)', '( \\frac{1}{3} )'],
    ['\\displaystyle 5', '5'],
    ['3\\!\\cdot\\!4', '3\\cdot4'],
    ['90^\\circ', '90'],
    ['90^{\\circ}', '90'],
    ['90°', '90'],
    ['50\\%', '50'],
    ['50%', '50'],
    ['28 percent', '28'],
    ['15\\mbox{ cm}^2', '15'],
    ['\\frac{1}{3} \\text{meters}', '\\frac{1}{3}'],
    ['12 inches', '12'],
    ['64 square feet', '64'],
    ['\\text{Evelyn}', 'Evelyn'],
    ['\\textbf{(C)}', '(C)'],
    ['6 \\text{ and } 8', '6 , 8'],
    ['19, 46, and 82', '19, 46, 82'],
    ['5.', '5'],
    ['.4', '0.4'],
    ['-1./3', '-1/3'],
    ['np.arcsin(10/13)', '\\arcsin(10/13)'],
    ['8.7e8', '8.7\\times10^{8}'],
    ['1e-3', '1\\times10^{-3}'],
    ['{5}', '5'],
    ['\\infty', '\\infty'],
    ['infinity', '\\infty'],
    ['x \\geq 5', 'x \\ge 5'],
    ['x >= 5', 'x \\ge 5'],
    ['\\varnothing', '\\emptyset'],
    ['3π', '3\\pi'],
    ['\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}', '\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}'],
    ['3.2\\times10^{-4}\\,\\text{m}^{-1}', '3.2\\times10^{-4}'],
    ['9.8 \\text{m}\\cdot\\text{s}^{-2}', '9.8'],
    ['\\approx 13.33', '13.33'],
    ['≈ 2.5', '2.5'],
    ['\\\\frac{1}{2}', '\\frac{1}{2}'],
    ['1 \\\\\\frac12', '1 \\\\\\frac12'],
    ['185\\', '185'],
    ['x^2=4 \\Rightarrow x=2', 'x=2'],
  ];
  it.each(cases)('%s -> %s', (raw, want) => {
    expect(normalizeAnswer(raw)).toBe(want);
  });

  it('is idempotent on the shared forms', () => {
    for (const [raw] of cases) {
      const once = normalizeAnswer(raw);
      expect(normalizeAnswer(once)).toBe(once);
    }
  });
});

describe('parseStructure', () => {
  it('splits lists, sets, tuples, intervals, unions and matrices at the top level only', () => {
    expect(parseStructure('1, -2').kind).toBe('list');
    expect(parseStructure('f(x, y)').kind).toBe('expr');
    expect(parseStructure('\\{1, 2\\}')).toMatchObject({ kind: 'set', items: [{ latex: '1' }, { latex: '2' }] });
    expect(parseStructure('[0, 1)')).toMatchObject({ kind: 'tuple', open: '[', close: ')' });
    expect(parseStructure('(9+1)')).toEqual({ kind: 'expr', latex: '9+1' });
    expect(parseStructure('[-1, 0) \\cup (0, 1]').kind).toBe('union');
    expect(parseStructure('\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}')).toMatchObject({
      kind: 'matrix',
      rows: [
        [{}, {}],
        [{}, {}],
      ],
    });
    expect(parseStructure('\\pm 2')).toMatchObject({ kind: 'set', items: [{ latex: '2' }, { latex: '-(2)' }] });
  });

  it('reads mixed numbers in any scalar position', () => {
    expect(parseStructure('2\\frac{1}{3}')).toEqual({ kind: 'expr', latex: '(2+\\frac{1}{3})' });
    expect(parseStructure('-7 3/4')).toEqual({ kind: 'expr', latex: '-(7+\\frac{3}{4})' });
    expect(parseStructure('(1\\frac{4}{5}, 2)')).toMatchObject({
      items: [{ latex: '(1+\\frac{4}{5})' }, { latex: '2' }],
    });
    expect(parseStructure('2\\frac{3}{2}')).toEqual({ kind: 'expr', latex: '2\\frac{3}{2}' });
  });

  it('marks a plain-text mixed number with an improper fraction as not a number', () => {
    expect(parseStructure('11 6/6')).toEqual({ kind: 'expr', latex: '11 6/6', opaque: true });
    expect(parseStructure('+11 5/6')).toEqual({ kind: 'expr', latex: '(11+\\frac{5}{6})' });
  });

  it('tells labels from expressions on the left of =', () => {
    for (const label of [
      'x',
      'AB',
      '\\overline{CD}',
      '|PQ|',
      'f^{-1}(x)',
      "g'(x)",
      '\\tan\\alpha',
      'Area',
      '(p,q)',
      'a_{n+1}',
      'P(A)',
    ]) {
      expect(isLabel(label), label).toBe(true);
    }
    for (const expr of ['2x+z', '-x', '2y', 'x^2', 'a^2+b', '8\\times 9', '\\frac{10}{15}', '7', '(3,2)', '']) {
      expect(isLabel(expr), expr).toBe(false);
    }
  });

  it('reads what an equality statement states', () => {
    const rel = (s: string) => parseStructure(s) as Relation;
    expect(statement(rel('x = 5+5+1 = 11'))).toEqual({ label: 'x', value: '11' });
    expect(statement(rel('8 \\times 9 = 72'))).toEqual({ label: null, value: '72' });
    expect(statement(rel('\\frac{40}{3} \\approx 13.33'))).toEqual({
      label: null,
      value: '\\frac{40}{3}',
      approx: '13.33',
    });
    expect(statement(rel('x \\approx 11'))).toEqual({ label: 'x', value: '11' });
    expect(statement(rel('2x + z = 1'))).toBeNull();
    expect(statement(rel('x < 5'))).toBeNull();
  });

  it('reads relations and chains, and drops `x \\in`', () => {
    expect(parseStructure('-2 \\le x < 7')).toEqual({ kind: 'relation', terms: ['-2', 'x', '7'], ops: ['\\le', '<'] });
    expect(parseStructure('(p,q)=(3,2)')).toEqual({ kind: 'relation', terms: ['(p,q)', '(3,2)'], ops: ['='] });
    expect(parseStructure('x \\in [-2, 7]')).toMatchObject({ kind: 'tuple', open: '[', close: ']' });
  });
});

describe('parseNumber', () => {
  it('reads integers, decimals, fractions and e-notation exactly', () => {
    expect(parseNumber('025')).toEqual({ num: 25n, den: 1n, approximate: false });
    expect(parseNumber('-\\frac{10}{9}')).toEqual({ num: -10n, den: 9n, approximate: false });
    expect(parseNumber('2/(-4)')).toEqual({ num: -1n, den: 2n, approximate: false });
    expect(parseNumber('0.50')).toEqual({ num: 1n, den: 2n, approximate: true });
    expect(parseNumber('8.7\\times10^{8}')).toEqual({ num: 870000000n, den: 1n, approximate: true });
    expect(parseNumber('99999999999999999999')?.num).toBe(99999999999999999999n);
    expect(parseNumber('x')).toBeNull();
    expect(parseNumber('1/0')).toBeNull();
  });
});
