import { describe, expect, it } from 'vitest';
import { mathSpans } from '../../src/math/answer-line.js';
import { answerOf, answerRegion, extractAnswer, extractBoxedAll } from '../../src/math/extract.js';

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

  it("joins across the next box's own label (Math-Verify test_open_thoughts)", () => {
    expect(extractAnswer('\\(y_1 = \\boxed{-2(x - 1)^2 + 5} \\) and \\( y_2 = \\boxed{3(x + 2)^2 - 2} \\)')).toBe(
      '-2(x - 1)^2 + 5, 3(x + 2)^2 - 2',
    );
    expect(extractAnswer('$x = \\boxed{1}$, $y = \\boxed{2}$')).toBe('1, 2');
    // A label is not a separator: without one the boxes stay apart.
    expect(extractAnswer('\\boxed{1} y = \\boxed{2}')).toBe('2');
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

describe('the lenient extraction policy', () => {
  const lenient = (text: string) => extractAnswer(text, 'lenient');

  it('is the boxed policy whenever there is a box, and the default is boxed', () => {
    expect(lenient('The answer is 4. So \\boxed{5}.')).toBe('5');
    expect(lenient('<think>\\boxed{3}</think> The answer is 7.')).toBe('7');
    expect(extractAnswer('The answer is 7.')).toBeNull();
    expect(answerOf('The answer is 7.')).toBe('The answer is 7.');
  });

  it('reads "The final answer is X" first (the Minerva line), up to the end of its sentence', () => {
    expect(lenient('Final Answer: The final answer is $28 \\%$. I hope it is correct.')).toBe('$28 \\%$');
    expect(lenient('so 3. Final Answer: The final answer is 12,000,023. I hope it is correct.')).toBe('12,000,023');
    expect(lenient('Final Answer: The final answer is 16386.16.')).toBe('16386.16');
    // It wins over an "answer is" line that comes later, and the last occurrence of it wins.
    expect(lenient('The final answer is $2$. Then the answer is 3.')).toBe('$2$');
    expect(lenient('The final answer is $2$. Wait. The final answer is $4$.')).toBe('$4$');
  });

  it('then "The answer is X", then "Answer: X"', () => {
    expect(lenient('Thus the answer is $\\frac{1}{3}.$')).toBe('$\\frac{1}{3}.$');
    expect(lenient('The answer is 4 4/9.')).toBe('4 4/9');
    expect(lenient('Reasoning...\nAnswer: 42')).toBe('42');
    expect(lenient('The answer is:\n\\[ x = 5 \\]')).toBe('\\[ x = 5 \\]');
  });

  it('takes the value of a sentence after an anchor ("The largest $n$ is 34")', () => {
    expect(lenient('Final Answer: The largest $n$ is 34.')).toBe('34');
    expect(lenient('Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.')).toBe('120');
    expect(lenient('Answer: we get $x = 3$ here')).toBe('x = 3');
  });

  it('falls back to the last math of the final sentence', () => {
    expect(lenient('Therefore $x \\geq 5$ is the solution.')).toBe('x \\geq 5');
    expect(lenient('We get $a=1$ and so the pair is $(7, 6)$.')).toBe('(7, 6)');
    expect(lenient('The identity is \\[ \\begin{pmatrix}1 \\\\ 2\\end{pmatrix} \\]')).toBe(
      '\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}',
    );
    // No math in the final sentence: no answer (the earlier value was a step, not the answer).
    expect(lenient('We found $x = 3$. Let me know if you have questions.')).toBeNull();
    expect(lenient('No maths here at all.')).toBeNull();
  });

  it('reads math delimiters strictly: inline math stays on one line, \\$ is a dollar sign', () => {
    expect(lenient('Answer $ \n 9 \n $')).toBeNull();
    expect(lenient('Answer $$ \n 9 \n $$')).toBe('9');
    expect(lenient('Answer \\[ \n 9 \n \\]')).toBe('9');
    expect(lenient('Answer \\( \n 9 \n \\)')).toBeNull();
    expect(lenient('Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $')).toBe('\\frac{1}{2} \\$ = \\frac{10}{9}');
  });

  it('stops at a chat-template token: a hallucinated next turn is not the answer', () => {
    expect(lenient('So the pair is $(7, 6)$. <|im_start|>user Now solve $x=\\boxed{2}$')).toBe('(7, 6)');
    expect(lenient('Final Answer: The final answer is 5. <|im_end|>')).toBe('5');
  });

  it('keeps the rules about unfinished thoughts', () => {
    expect(lenient('<think>The answer is 5')).toBeNull();
    expect(lenient('<think>The answer is 5</think>')).toBeNull();
  });

  it('treats a bare answer as itself unless it reads as prose', () => {
    expect(answerOf('$1$ and $2$', 'lenient')).toBe('$1$ and $2$');
    expect(answerOf('28 percent', 'lenient')).toBe('28 percent');
    expect(answerOf('$28$ %', 'lenient')).toBe('$28$ %');
    expect(answerOf('x = 5', 'lenient')).toBe('x = 5');
    expect(answerOf('We find that $x \\lt 3$.', 'lenient')).toBe('x \\lt 3');
    expect(answerOf('The answer is 7.', 'lenient')).toBe('7');
  });
});

describe('mathSpans', () => {
  it('finds $, $$, \\( \\) and \\[ \\] spans in order, skipping escaped dollars', () => {
    expect(mathSpans('a $x$ b $$y$$ c \\(z\\) d \\[w\\] \\$5').map((s) => s.content)).toEqual(['x', 'y', 'z', 'w']);
    expect(mathSpans('costs \\$5 and $6$')).toEqual([{ content: '6', start: 14, end: 17 }]);
  });
});
