import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertTrajectory } from '../../src/format/convert.js';
import { resolveDialect } from '../../src/format/dialects.js';
import { threadweaver } from '../support/cli.js';
import { readJsonl, vendoredTrieVectors } from '../support/helpers.js';

const TW = resolveDialect('threadweaver');
const MV = resolveDialect('multiverse');
const PR1 = resolveDialect('parallel-r1');
const NPR = resolveDialect('npr');

// A Multiverse trajectory in its engine's bytes (see src/format/multiverse.ts).
const multiverse = `<Think>
Two products, then their sum.
Let's think in parallel.
<Parallel>
<Goal>
<Outline>
1: Compute 23*47.
</Outline>
<Outline>
2: Compute 18*36.
</Outline>
</Goal>
<Path>
1: 23*47 = 920 + 161 = 1081.
</Path>
<Path>
2: 18*36 = 540 + 108 = 648.
</Path>
<Conclusion>
The products are 1081 and 648.
</Conclusion>
</Parallel>
1081 + 648 = 1729.
</Think>

Answer: \\boxed{1729}`;

const ok = (c: ReturnType<typeof convertTrajectory>) => {
  if (!c.ok) throw new Error(c.reason);
  return c.text;
};

describe('convert between formats, block by block', () => {
  it('Multiverse → ThreadWeaver writes the canonical ThreadWeaver bytes, and back gives the same text', () => {
    const tw = ok(convertTrajectory(multiverse, MV, TW));
    expect(tw).toBe(`<think>
Two products, then their sum.
Let's think in parallel.
<Parallel>
<Outlines>
<Outline>1: Compute 23*47.</Outline>
<Outline>2: Compute 18*36.</Outline>
</Outlines>
<Thread>
1: 23*47 = 920 + 161 = 1081.
</Thread><Thread>
2: 18*36 = 540 + 108 = 648.
</Thread>
</Parallel>
The products are 1081 and 648.
1081 + 648 = 1729.
</think>

Answer: \\boxed{1729}`);
    expect(TW.validate(tw)).toEqual([]);
    expect(ok(convertTrajectory(tw, TW, MV))).toBe(multiverse);
  });

  it('every trie-vector trajectory of the bundled model goes to Multiverse and NPR and back unchanged', () => {
    const vectors = readJsonl<{ completion: string }>(vendoredTrieVectors);
    for (const v of vectors) {
      for (const target of [MV, NPR]) {
        const there = ok(convertTrajectory(v.completion, TW, target));
        expect(target.validate(there)).toEqual([]);
        expect(ok(convertTrajectory(there, target, TW))).toBe(v.completion);
      }
    }
  });

  it('refuses what does not map, with the reason', () => {
    const nested = multiverse.replace(
      '1: 23*47 = 920 + 161 = 1081.\n',
      "1: Split again.\nLet's think in parallel.\n<Parallel>\n<Goal>\n<Outline>\n1: a.\n</Outline>\n</Goal>\n<Path>\n1: b.\n</Path>\n<Conclusion>\nc.\n</Conclusion>\n</Parallel>\nSo 1081.\n",
    );
    expect(MV.validate(nested)).toEqual([]);
    expect(convertTrajectory(nested, MV, TW)).toEqual({
      ok: false,
      reason: 'block 1 has a block nested in thread 1: ThreadWeaver blocks do not nest',
    });
    expect(convertTrajectory(multiverse.replace('<Conclusion>\n', '<Conclusion>\nTwo lines\n'), MV, TW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/spans several lines/),
    });
    expect(convertTrajectory(multiverse.replace('</Path>\n<Conclusion>', '\n<Conclusion>'), MV, TW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not a valid Multiverse trajectory/),
    });

    const pr1 =
      'Two ways.\n<Parallel><Path>a = 1.</Path><Path>a = 1 again.</Path></Parallel>\n<Summary>Both say 1.</Summary>\n\\boxed{1}';
    expect(PR1.validate(pr1)).toEqual([]);
    expect(convertTrajectory(pr1, PR1, TW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/carry no plan/),
    });
    expect(convertTrajectory(multiverse, MV, PR1)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/plan entries would be lost/),
    });
    const dropped = ok(convertTrajectory(multiverse, MV, PR1, { dropPlan: true }));
    expect(dropped).toContain(
      '<Parallel><Path>23*47 = 920 + 161 = 1081.</Path><Path>18*36 = 540 + 108 = 648.</Path></Parallel>\n<Summary>The products are 1081 and 648.</Summary>',
    );
    expect(convertTrajectory(multiverse, MV, resolveDialect('parallel-r1:paths=3'), { dropPlan: true })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/2 threads, and Parallel-R1 runs 3 paths/),
    });
  });
});

describe('threadweaver convert (JSONL training data)', () => {
  it('converts rows, refuses the rest by line with the reason, writes the rejects', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tw-convert-'));
    const input = path.join(dir, 'mv.jsonl');
    const nested = multiverse.replace(
      '1: 23*47 = 920 + 161 = 1081.\n',
      "1: Again.\nLet's think in parallel.\n<Parallel>\n<Goal>\n<Outline>\n1: a.\n</Outline>\n</Goal>\n<Path>\n1: b.\n</Path>\n<Conclusion>\nc.\n</Conclusion>\n</Parallel>\nSo.\n",
    );
    const rows = [
      JSON.stringify({
        id: 'a',
        messages: [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: multiverse },
        ],
      }),
      JSON.stringify({ id: 'b', completion: nested }),
      '{"id": "c", "completion": ',
      JSON.stringify({ id: 'd', prompt: 'Q', completion: multiverse }),
      JSON.stringify({ id: 'e', answer: 1 }),
    ];
    await writeFile(input, rows.join('\n') + '\n');
    const out = path.join(dir, 'tw.jsonl');
    const rejects = path.join(dir, 'rejects.jsonl');
    const r = await threadweaver(
      'convert',
      '--from',
      'multiverse',
      '--to',
      'threadweaver',
      '--input',
      input,
      '--out',
      out,
      '--rejects',
      rejects,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${input}:2: refused: completion: block 1 has a block nested in thread 1`);
    expect(r.stderr).toMatch(new RegExp(`${input.replace(/[/.]/g, '\\$&')}:3: refused: not JSON`));
    expect(r.stderr).toContain(`${input}:5: refused: no trajectory field`);
    expect(r.stderr).toContain('convert multiverse → threadweaver: 2 of 5 rows converted, 3 refused');
    const written = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(written.map((w) => w.id)).toEqual(['a', 'd']);
    expect(written[0].messages[0]).toEqual({ role: 'user', content: 'Q' });
    expect(written[0].messages[1].content).toBe(written[1].completion);
    expect(TW.validate(written[1].completion)).toEqual([]);
    const rej = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rej.map((x) => x.line)).toEqual([2, 3, 5]);

    const same = await threadweaver('convert', '--from', 'npr', '--to', 'npr', '--input', input, '--out', out);
    expect(same.code).toBe(2);
    const unknown = await threadweaver(
      'convert',
      '--from',
      'mv',
      '--to',
      'threadweaver',
      '--input',
      input,
      '--out',
      out,
    );
    expect(unknown.stderr).toMatch(/--from: format mv: name must be one of threadweaver, multiverse, parallel-r1, npr/);
  });
});
