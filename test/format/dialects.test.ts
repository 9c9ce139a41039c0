import { describe, expect, it } from 'vitest';
import { DIALECT_NAMES } from '../../src/format/dialect.js';
import { formatSpecText, parseFormatSpec, resolveDialect } from '../../src/format/dialects.js';
import { scanElements } from '../../src/format/elements.js';

const codes = (format: string, text: string) =>
  resolveDialect(format)
    .validate(text)
    .map((v) => v.code);

describe('format names and settings', () => {
  it('NAME or NAME:key=value,…; settings of another format are refused', () => {
    expect(parseFormatSpec('parallel-r1:paths=4,blocks=3')).toEqual({ name: 'parallel-r1', paths: 4, blocks: 3 });
    expect(formatSpecText(parseFormatSpec('multiverse:depth=2,thread-tokens=500'))).toBe(
      'multiverse:depth=2,thread-tokens=500',
    );
    expect(() => parseFormatSpec('threadweaver:depth=2')).toThrow(/'depth' applies to multiverse only/);
    expect(() => parseFormatSpec('parallel-r1:paths=0')).toThrow(/paths/);
    expect(() => parseFormatSpec('parallel-r1:width=2')).toThrow(/unknown setting 'width'/);
    expect(() => parseFormatSpec('sot')).toThrow(/must be one of threadweaver, multiverse, parallel-r1, npr/);
    expect(resolveDialect('parallel-r1:paths=3').plan('<Parallel>')).toEqual(['1', '2', '3']);
    expect(resolveDialect('npr:threads=2').limits.maxThreads).toBe(2);
  });

  it('a plan is read from the last opening of a plan in the text: an earlier, unfinished one is no part of it', () => {
    const plans: [string, string][] = [
      [
        'threadweaver',
        '<Outlines>\n<Outline>1: a</Outline>\n<Outline>2: b</Outline>\n<Outlines>\n<Outline>7: c</Outline>\n</Outlines>',
      ],
      [
        'multiverse',
        '<Goal>\n<Outline>\n1: a\n</Outline>\n<Outline>\n2: b\n</Outline>\n<Goal>\n<Outline>\n7: c\n</Outline>\n</Goal>',
      ],
      ['npr', '<guideline>\n<plan>1: a</plan>\n<plan>2: b</plan>\n<guideline>\n<plan>7: c</plan>\n</guideline>'],
    ];
    for (const [name, text] of plans) expect(resolveDialect(name).plan(text), name).toEqual(['7']);
  });

  it('every format has its tags, a trigger among them, and renders a block its own parser reads back', () => {
    for (const name of DIALECT_NAMES) {
      const d = resolveDialect(name);
      expect(d.tags).toContain(d.forkTrigger);
      expect(d.tags).toContain(d.threadStop);
      const block = d.renderBlock({
        plan: name === 'parallel-r1' ? null : ['Compute 2*3.', 'Compute 4*5.'],
        threads: ['2*3 = 6.', '4*5 = 20.'],
        reduce: '6 and 20.',
      });
      const tree = d.parse(block);
      expect(tree.blocks).toHaveLength(1);
      expect(tree.blocks[0]!.threads.map((t) => t.text)).toEqual(['2*3 = 6.', '4*5 = 20.']);
      if (name !== 'parallel-r1')
        expect(tree.blocks[0]!.plan!.map((p) => [p.label, p.text])).toEqual([
          ['1', 'Compute 2*3.'],
          ['2', 'Compute 4*5.'],
        ]);
      if (name !== 'threadweaver') expect(tree.blocks[0]!.reduce?.text).toBe('6 and 20.');
    }
  });
});

describe('the lenient element scan', () => {
  it('an unclosed element ends at its parent’s close; a close with no open is a stray', () => {
    const text = '<A><B>x</A></B>';
    const { root, strays } = scanElements(text, ['A', 'B']);
    const a = root.children[0]!;
    expect([a.closed, a.children[0]!.closed, a.children[0]!.end]).toEqual([true, false, text.indexOf('</A>')]);
    expect(strays).toEqual([{ name: 'B', start: text.indexOf('</B>'), end: text.length }]);
  });
});

describe('strict checks', () => {
  const mvBlock =
    '<Parallel>\n<Goal>\n<Outline>\n1: a\n</Outline>\n<Outline>\n2: b\n</Outline>\n</Goal>\n<Path>\n1: x\n</Path>\n<Path>\n2: y\n</Path>\n<Conclusion>\nz\n</Conclusion>\n</Parallel>';
  it('Multiverse: the curator validator’s rules, the plan, the depth', () => {
    expect(codes('multiverse', `<Think>\n${mvBlock}\n</Think>`)).toEqual([]);
    expect(codes('multiverse', mvBlock)).toEqual(['parallel-outside-think']);
    expect(
      codes('multiverse', `<Think>\n${mvBlock.replace(/<Conclusion>\nz\n<\/Conclusion>\n/, '')}\n</Think>`),
    ).toEqual(['block-children']);
    expect(codes('multiverse', `<Think>\n${mvBlock.replace('<Path>\n2: y\n</Path>\n', '')}\n</Think>`)).toEqual([
      'outline-count',
    ]);
    expect(codes('multiverse', `<Think>\n${mvBlock.replace('2: y', '3: y')}\n</Think>`)).toEqual(['thread-numbering']);
    expect(codes('multiverse', `<Think>\n${mvBlock.replace('</Goal>', 'stray\n</Goal>')}\n</Think>`)).toEqual([
      'block-order',
    ]);
    expect(codes('multiverse', `<Think>\n${mvBlock.replace('</Path>\n<Path>\n2', '<Path>\n2')}\n</Think>`)).toEqual(
      expect.arrayContaining(['tag-unclosed']),
    );
    const nested = mvBlock.replace('1: x\n', `1: x\n${mvBlock}\n`);
    expect(codes('multiverse', `<Think>\n${nested}\n</Think>`)).toEqual([]);
    expect(codes('multiverse:depth=1', `<Think>\n${nested}\n</Think>`)).toEqual(['nesting-depth']);
    expect(codes('multiverse', `<Think>\n</Think>\n</Path>`)).toEqual(['tag-unmatched']);
  });

  it('Parallel-R1: the reward function’s format rules', () => {
    const good = '<Parallel><Path>a</Path><Path>b</Path></Parallel>\n<Summary>s</Summary>';
    expect(codes('parallel-r1', good)).toEqual([]);
    expect(codes('parallel-r1', '<Parallel><Path>a</Path></Parallel>\n<Summary>s</Summary>')).toEqual(['thread-count']);
    expect(codes('parallel-r1', '<Parallel><Path>a</Path><Path>b</Path></Parallel>\nno summary')).toEqual([
      'reduce-missing',
    ]);
    expect(codes('parallel-r1', 'x <Summary>s</Summary>')).toEqual(['tag-misplaced']);
    expect(
      codes('parallel-r1', '<Parallel><Path>a</Path>between<Path>b</Path></Parallel>\n<Summary>s</Summary>'),
    ).toEqual(['block-order']);
    expect(codes('parallel-r1', '<Parallel><Path>a</Path><Path>b')).toEqual(['tag-unclosed', 'tag-unclosed']);
  });

  it('NPR: one step per plan entry, numbered alike, then a takeaway', () => {
    const round =
      '<guideline>\n<plan>1: a</plan>\n<plan>2: b</plan>\n</guideline>\n<step>\n1: x\n</step>\n<step>\n2: y\n</step>\n<takeaway>z</takeaway>';
    expect(codes('npr', round + '\n' + round)).toEqual([]);
    expect(codes('npr', round.replace('<takeaway>z</takeaway>', ''))).toEqual(['reduce-missing']);
    expect(codes('npr', round.replace('\n<step>\n2: y\n</step>', ''))).toEqual(['thread-count']);
    expect(codes('npr', round.replace('<plan>2: b</plan>', '<plan>two: b</plan>'))).toEqual(['plan-format']);
    expect(codes('npr', round.replace('1: x', '2: x'))).toEqual(['thread-numbering']);
    expect(codes('npr', '<step>\n1: x\n</step>')).toEqual(['tag-misplaced']);
    expect(codes('npr', '<guideline>\n</guideline>\n<step>\n1: x\n</step>\n<takeaway>z</takeaway>')).toEqual([
      'plan-missing',
      'thread-count',
    ]);
  });
});
