/**
 * The two format checks: strict (every rule of the dialect's validator) and lenient (the fork/join
 * structure is sound: blocks and threads closed, no stray close tag, every outline answered by a
 * thread of its number), including the example eval/README.md gives of one passing and not the other.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDialect } from '../../src/format/dialects.js';
import { isLenientFormat, lenientViolations } from '../../src/format/lenient.js';
import { isValidTrajectory } from '../../src/format/validate.js';
import { repoRoot } from '../support/helpers.js';

const codes = (text: string, format?: string) => lenientViolations(text, resolveDialect(format)).map((v) => v.code);

/** The bundled model's trajectory format (models/tiny-threadweaver/MODEL.md). */
const valid = [
  '<think>',
  'The expression has 2 independent products; compute each, then combine.',
  '<Parallel>',
  '<Outlines>',
  '<Outline>1: Compute 81*51.</Outline>',
  '<Outline>2: Compute 26*16.</Outline>',
  '</Outlines>',
  '<Thread>',
  '1: 81*51 = 4131.',
  '</Thread><Thread>',
  '2: 26*16 = 416.',
  '</Thread>',
  '</Parallel>',
  'Combine: 4131 + 416 = 4547.',
  '</think>',
  'The answer is \\boxed{4547}.',
].join('\n');

describe('strict and lenient format checks', () => {
  it('a well-formed trajectory passes both', () => {
    expect(isValidTrajectory(valid)).toBe(true);
    expect(isLenientFormat(valid)).toBe(true);
  });

  it("the docs' example: threads answered out of order and a missing </think> fail strict, pass lenient", () => {
    const swapped = valid
      .replace('1: 81*51 = 4131.', '2: 26*16 = 416.')
      .replace('</Thread><Thread>\n2: 26*16 = 416.', '</Thread><Thread>\n1: 81*51 = 4131.')
      .replace('</think>\n', '');
    expect(isValidTrajectory(swapped)).toBe(false);
    expect(isLenientFormat(swapped)).toBe(true);
  });

  it('the example eval/README.md gives passes lenient and fails strict, and cut before its second </Thread> fails both', () => {
    const readme = readFileSync(path.join(repoRoot, 'eval/README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Format correctness'));
    const example = /```\n([\s\S]*?)\n```/.exec(section)![1]!;
    expect(example).toContain('<Parallel>');
    expect(isValidTrajectory(example)).toBe(false);
    expect(isLenientFormat(example)).toBe(true);
    const cut = example.slice(0, example.lastIndexOf('</Thread>'));
    expect(isValidTrajectory(cut)).toBe(false);
    expect(isLenientFormat(cut)).toBe(false);
  });

  it('strict-only rules: a third thread, a tag inside a thread, text between threads, unnumbered outlines', () => {
    const extra = valid.replace('</Thread>\n</Parallel>', '</Thread><Thread>\n3: a check.\n</Thread>\n</Parallel>');
    const tagged = valid.replace('1: 81*51 = 4131.', '1: 81*51 = <Outline>4131.');
    const chatter = valid.replace('</Thread><Thread>', '</Thread> and then <Thread>');
    for (const t of [extra, tagged, chatter]) {
      expect(isValidTrajectory(t), t).toBe(false);
      expect(codes(t), t).toEqual([]);
    }
  });

  it('fails lenient on an unclosed block or thread, a stray close tag, or an outline with no thread of its number', () => {
    const cut = valid.slice(0, valid.indexOf(' 26*16 = 416'));
    expect(codes(cut)).toEqual(['block-unclosed', 'thread-unclosed']);
    expect(codes(`${valid}\n</Parallel>`)).toEqual(['close-unmatched']);
    expect(codes(`${valid}\nstray </Thread>`)).toEqual(['close-unmatched']);
    const renumbered = valid.replace('2: 26*16 = 416.', '3: 26*16 = 416.');
    expect(codes(renumbered)).toEqual(['outline-unanswered']);
    expect(lenientViolations(renumbered)[0]!.message).toBe('outline 2 has no thread of its number');
    const missing = valid.replace('</Thread><Thread>\n2: 26*16 = 416.\n', '');
    expect(codes(missing)).toEqual(['outline-unanswered']);
    // Every one of them fails strict too: strict passes imply lenient passes.
    for (const t of [cut, `${valid}\n</Parallel>`, renumbered, missing]) expect(isValidTrajectory(t)).toBe(false);
  });

  it('a trajectory without a block passes both', () => {
    const plain = '<think>\n37*24 = 888.\n</think>\nThe answer is \\boxed{888}.';
    expect(isValidTrajectory(plain)).toBe(true);
    expect(isLenientFormat(plain)).toBe(true);
  });

  it('reads the other formats through their dialect', () => {
    const r1 = '<Parallel><Path>a</Path><Path>b</Path></Parallel> \\boxed{1}';
    expect(codes(r1, 'parallel-r1')).toEqual([]);
    expect(codes('<Parallel><Path>a</Path><Path>b', 'parallel-r1')).toEqual(['block-unclosed', 'thread-unclosed']);
  });
});
