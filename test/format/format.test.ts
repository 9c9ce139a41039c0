import { describe, expect, it } from 'vitest';
import {
  formatBlock,
  outlineNumbers,
  parseTrajectory,
  renderTree,
  validateTrajectory,
  type ViolationCode,
} from '../../src/format/index.js';
import { readJsonl, vendoredTrieVectors } from '../support/helpers.js';

const vectors = readJsonl<{ prompt: string; completion: string }>(vendoredTrieVectors);

const block = formatBlock({
  outlines: ['Compute 2*3.', 'Compute 4*5.'],
  threads: ['2*3 = 6. So the result is 6.', '4*5 = 20. So the result is 20.'],
});
const good = `<think>\nTwo products.\n${block}\nCombine: 6 + 20 = 26.\n</think>\nThe answer is \\boxed{26}.`;

function codes(text: string): ViolationCode[] {
  return validateTrajectory(text).map((v) => v.code);
}

describe('parse → render', () => {
  it('is byte-identical on every trie-vector completion', () => {
    expect(vectors.length).toBe(12);
    for (const v of vectors) {
      const tree = parseTrajectory(v.completion);
      expect(renderTree(tree)).toBe(v.completion);
      expect(validateTrajectory(tree)).toEqual([]);
    }
  });

  it('is byte-identical on malformed and edge-case text', () => {
    const cases = [
      '',
      'plain text, no tags',
      '<think>\n<Parallel>\n<Outlines>\n<Outline>1: a',
      '<Parallel><Thread>\n1: x',
      '</Parallel></Thread><Thread>',
      '<Parallel>\n<Outlines>\n<Outline> 2.1 : a</Outline><Outline>2.1: b</Outline>\n</Outlines>\n<Thread>\n<Parallel>nested</Thread>\n</Parallel>tail',
      'é ü 中文 <Parallel>\n</Parallel>\n\n',
      good,
    ];
    for (const c of cases) expect(renderTree(parseTrajectory(c))).toBe(c);
  });

  it('builds the tree of a canonical block', () => {
    const tree = parseTrajectory(good);
    expect(tree.blocks).toHaveLength(1);
    const b = tree.blocks[0]!;
    expect(b.closed).toBe(true);
    expect(b.outlines.map((o) => [o.number, o.text])).toEqual([
      ['1', 'Compute 2*3.'],
      ['2', 'Compute 4*5.'],
    ]);
    expect(b.threads.map((t) => [t.number, t.text])).toEqual([
      ['1', '2*3 = 6. So the result is 6.'],
      ['2', '4*5 = 20. So the result is 20.'],
    ]);
    expect(tree.segments.map((s) => s.kind)).toEqual(['sequential', 'parallel', 'sequential']);
    expect(good.slice(tree.thinkEnd!, tree.thinkEnd! + 8)).toBe('</think>');
  });

  it('formatBlock writes the trained bytes', () => {
    const v = vectors.find((x) => x.completion.includes('<Parallel>'))!;
    const tree = parseTrajectory(v.completion);
    const b = tree.blocks[0]!;
    const again = formatBlock({ outlines: b.outlines.map((o) => o.text), threads: b.threads.map((t) => t.text) });
    expect(v.completion.slice(b.start, b.end)).toBe(again);
  });
});

describe('outline numbers (controller rule)', () => {
  it('accepts spaces and dotted numbers, drops duplicates, keeps order and spelling', () => {
    expect(
      outlineNumbers('<Outlines>\n<Outline> 1 :a</Outline><Outline>2.1: b<Outline>02: c<Outline>1: d</Outlines>'),
    ).toEqual(['1', '2.1', '02']);
  });
  it('reads only from the last <Outlines>', () => {
    expect(outlineNumbers('<Outlines><Outline>1: a</Outlines> ... <Outlines><Outline>7: b</Outlines>')).toEqual(['7']);
  });
  it('finds nothing in outline soup', () => {
    expect(outlineNumbers('<Outlines>\n<Outline>first: a</Outline>\n<Outline>: b\n</Outlines>')).toEqual([]);
  });
});

describe('strict validator', () => {
  it('passes a canonical trajectory and a sequential one', () => {
    expect(codes(good)).toEqual([]);
    expect(codes('<think>\nStep 1: 2*3 = 6.\n</think>\nThe answer is \\boxed{6}.')).toEqual([]);
  });

  const cases: [string, string, ViolationCode, string][] = [
    ['unclosed block', good.replace('</Parallel>', ''), 'parallel-unclosed', '<Parallel>'],
    ['stray close', good + '</Parallel>', 'parallel-close-unmatched', '</Parallel>'],
    ['thread outside block', good.replace('Combine:', '<Thread>Combine:'), 'tag-outside-block', '<Thread>Combine'],
    ['unclosed think', good.replace('</think>', ''), 'think-unclosed', '<think>'],
    ['outline numbering', good.replace('<Outline>2:', '<Outline>3:'), 'outline-numbering', '<Outline>3:'],
    ['outline format', good.replace('<Outline>2:', '<Outline>two:'), 'outline-format', '<Outline>two:'],
    ['outline unclosed', good.replace('Compute 4*5.</Outline>', 'Compute 4*5.'), 'outline-unclosed', '<Outline>2:'],
    ['thread numbering', good.replace('<Thread>\n2:', '<Thread>\n1:'), 'thread-numbering', '<Thread>\n1: 4*5'],
    ['thread format', good.replace('<Thread>\n2:', '<Thread>\n'), 'thread-format', '<Thread>\n 4*5'],
    ['thread unclosed', good.replace('20.\n</Thread>', '20.\n'), 'thread-unclosed', '<Thread>\n2:'],
    ['tag in thread', good.replace('6. So', '<Outline>6. So'), 'tag-in-thread', '<Outline>6. So'],
    ['nested block', good.replace('</Outlines>', '</Outlines><Parallel>'), 'parallel-nested', '<Parallel>\n<Thread>'],
    ['count mismatch', good.replace(/<Thread>\n2:[\s\S]*?<\/Thread>/, ''), 'outline-count', '<Parallel>'],
    ['text in block', good.replace('</Outlines>', '</Outlines>stray words'), 'block-order', 'stray words'],
    ['no outlines', good.replace(/<Outlines>[\s\S]*<\/Outlines>/, ''), 'outlines-missing', '<Parallel>'],
    [
      'threads before outlines',
      `<think>\n<Parallel>\n<Thread>\n1: a\n</Thread><Outlines>\n<Outline>1: a</Outline>\n</Outlines>\n</Parallel>\n</think>`,
      'block-order',
      '<Outlines>\n<Outline>1: a</Outline>\n</Outlines>\n</Parallel>',
    ],
  ];
  it.each(cases)('flags %s with its offset', (_name, text, code, at) => {
    const v = validateTrajectory(text).filter((x) => x.code === code);
    expect(v.length).toBeGreaterThan(0);
    expect(v.some((x) => text.startsWith(at, x.offset))).toBe(true);
  });

  it('flags more than 50 outlines', () => {
    const n = 51;
    const b = formatBlock({
      outlines: Array.from({ length: n }, (_, i) => `o${i}`),
      threads: Array.from({ length: n }, (_, i) => `t${i}`),
    });
    expect(codes(`<think>\n${b}\n</think>`)).toContain('too-many-outlines');
  });

  it('returns every violation, sorted by offset', () => {
    const bad = good.replace('<Outline>2:', '<Outline>x:').replace('</Parallel>', '');
    const v = validateTrajectory(bad);
    expect(v.map((x) => x.code)).toEqual(expect.arrayContaining(['outline-format', 'parallel-unclosed']));
    expect([...v].sort((a, b) => a.offset - b.offset)).toEqual(v);
  });
});
