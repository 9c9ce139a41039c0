import { describe, expect, it } from 'vitest';
import { answerOf, answerRegion, extractAnswer, extractBoxedAll } from '../src/math/extract.js';

describe('extractAnswer', () => {
  it('takes the last box', () => {
    expect(extractAnswer('First \\boxed{1}. Then again:\n\n\\boxed{2}')).toBe('2');
  });

  it('matches nested braces', () => {
    expect(extractAnswer('Thus $x = \\boxed{\\frac{1}{\\sqrt{2}}}$.')).toBe('\\frac{1}{\\sqrt{2}}');
    expect(extractAnswer('\\boxed{\\begin{pmatrix}1 & 2\\end{pmatrix}}')).toBe('\\begin{pmatrix}1 & 2\\end{pmatrix}');
  });

  it('honours escaped braces inside a box', () => {
    expect(extractAnswer('\\boxed{\\{1,2\\}}')).toBe('\\{1,2\\}');
    expect(extractAnswer('\\boxed{a\\}b}')).toBe('a\\}b');
    expect(extractAnswer('\\boxed{\\{1, \\{2\\}\\}}')).toBe('\\{1, \\{2\\}\\}');
  });

  it('returns null without a box', () => {
    expect(extractAnswer('The answer is 5.')).toBeNull();
    expect(extractAnswer('')).toBeNull();
  });

  it('skips an unclosed box but keeps an earlier closed one', () => {
    expect(extractAnswer('\\boxed{12')).toBeNull();
    expect(extractAnswer('\\boxed{3} and finally \\boxed{12')).toBe('3');
  });

  it('ignores boxes before </think>', () => {
    expect(extractAnswer('<think>Maybe \\boxed{3}? No.</think>\nThe answer is \\boxed{5}.')).toBe('5');
    expect(extractAnswer('<think>Maybe \\boxed{3}.</think>\nI cannot tell.')).toBeNull();
    // Without an opening tag (the prompt ended with it) the text after </think> still counts.
    expect(extractAnswer('so 3</think>\n\\boxed{3}')).toBe('3');
  });

  it('gives no answer for a truncated thought (<think> never closed)', () => {
    expect(extractAnswer('<think>so the answer is \\boxed{3}')).toBeNull();
    expect(answerRegion('<think>unfinished')).toBeNull();
    expect(answerRegion('plain text')).toBe('plain text');
  });

  it('reads the legacy <Think>/</Think> as <think>/</think>, as the reference graders rewrite them', () => {
    expect(extractAnswer('<think>\nso \\boxed{1}\n</Think>\n\nThe answer is \\boxed{2}.')).toBe('2');
    expect(extractAnswer('<Think>\nstill thinking \\boxed{1}')).toBeNull();
    expect(answerOf('<Think>\nx\n</Think>\n\\boxed{7}')).toBe('7');
  });

  it('joins adjacent boxes separated by commas, "and" or \\quad', () => {
    expect(extractAnswer('\\boxed{1}, \\boxed{2}')).toBe('1, 2');
    expect(extractAnswer('\\boxed{1} and \\boxed{2}')).toBe('1, 2');
    expect(extractAnswer('$\\boxed{1}$, $\\boxed{2}$')).toBe('1, 2');
    expect(extractAnswer('\\boxed{1}\\quad\\text{and}\\quad\\boxed{2}')).toBe('1, 2');
    expect(extractAnswer('\\[\n\\boxed{(1, 2)}, \\boxed{(2, 1)}\n\\]')).toBe('(1, 2), (2, 1)');
  });

  it('does not join boxes separated by prose or only by whitespace', () => {
    expect(extractAnswer('\\boxed{1}\n\nSo \\boxed{2}')).toBe('2');
    expect(extractAnswer('\\boxed{1} \\boxed{2}')).toBe('2');
    expect(extractAnswer('\\boxed{004}. Let me check again ... So \\boxed{004} is correct.\n\\boxed{004}')).toBe('004');
  });

  it('accepts \\fbox and the brace-less \\boxed 5', () => {
    expect(extractAnswer('So the final answer is \\fbox{12}.')).toBe('12');
    expect(extractAnswer('The answer is $\\boxed 5$.')).toBe('5');
    expect(extractAnswer('\\boxed 42\nDone.')).toBe('42');
  });

  it('does not mistake longer command names for boxes', () => {
    expect(extractAnswer('\\boxedtext{3}')).toBeNull();
  });

  it('returns an empty string for an empty box', () => {
    expect(extractAnswer('\\boxed{}')).toBe('');
  });
});

describe('extractBoxedAll', () => {
  it('lists every closed box in order, thinking included', () => {
    expect(extractBoxedAll('<think>\\boxed{1}</think> \\boxed{2} \\fbox{3} \\boxed{4')).toEqual(['1', '2', '3']);
    expect(extractBoxedAll('nothing')).toEqual([]);
  });
});

describe('answerOf', () => {
  it('passes bare answers through and extracts from responses', () => {
    expect(answerOf('\\frac{1}{2}')).toBe('\\frac{1}{2}');
    expect(answerOf('so \\boxed{7}')).toBe('7');
    expect(answerOf('<think>no answer yet')).toBeNull();
  });
});
