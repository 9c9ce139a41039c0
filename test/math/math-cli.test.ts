import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import grade from '../../src/cli/commands/grade.js';
import { UsageError } from '../../src/cli/command.js';
import { parseGradingCases } from '../../src/math/cases.js';

/** Run the command and capture what it writes to stdout. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await grade.run(args);
    return { code, out };
  } finally {
    spy.mockRestore();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'grade-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('threadweaver grade', () => {
  it('grades a case file and lists the disagreements with their lines', async () => {
    const file = path.join(dir, 'cases.jsonl');
    const rows = [
      { pred: '\\frac{2}{4}', gold: '0.5', equal: true },
      { pred: '3', gold: '4', equal: false },
      '',
      { pred: '(1,2)', gold: '(2,1)', equal: true, source: 'deliberately wrong expectation' },
      { pred: null, gold: '1', equal: false },
    ];
    await writeFile(file, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
    const { code, out } = await run(['--cases', file]);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ total: 4, agree: 3 });
    expect(report.disagreements).toEqual([
      {
        line: 4,
        pred: '(1,2)',
        gold: '(2,1)',
        expected: true,
        got: false,
        reason: expect.stringContaining('tuple item 1'),
      },
    ]);
  });

  it('grades a single pair, extracting a boxed answer', async () => {
    const { code, out } = await run(['--pred', 'so \\boxed{\\dfrac{1}{2}}', '--gold', '0.5']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ pred: 'so \\boxed{\\dfrac{1}{2}}', gold: '0.5', equal: true });
    const negative = JSON.parse((await run(['--pred=-3', '--gold', '3'])).out);
    expect(negative.equal).toBe(false);
  });

  it('passes the tolerance option through', async () => {
    expect(JSON.parse((await run(['--pred', '0.3333', '--gold', '1/3'])).out).equal).toBe(false);
    expect(JSON.parse((await run(['--pred', '0.3333', '--gold', '1/3', '--rel-tol', '0.001'])).out).equal).toBe(true);
  });

  it('--extract lenient reads unboxed answer lines; the default and the output shape stay as they were', async () => {
    const file = path.join(dir, 'lenient.jsonl');
    const rows = [
      { pred: 'Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.', gold: '0.5', equal: true },
      { pred: 'Therefore $x \\geq 5$ is the solution.', gold: 'x \\ge 5', equal: true },
      { pred: 'So \\boxed{3}. The answer is 4.', gold: '3', equal: true },
      { pred: 'The answer is 9.', gold: '8', equal: false },
    ];
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const lenient = JSON.parse((await run(['--cases', file, '--extract', 'lenient'])).out);
    expect(lenient).toEqual({ total: 4, agree: 4, disagreements: [] });
    const boxed = JSON.parse((await run(['--cases', file])).out);
    expect(Object.keys(boxed)).toEqual(['total', 'agree', 'disagreements']);
    expect(boxed.agree).toBe(2);
    // Without a box or think tags the default reads the whole text as the answer, which fails.
    expect(boxed.disagreements.map((d: { line: number }) => d.line)).toEqual([1, 2]);
    const single = JSON.parse((await run(['--pred', 'Answer: 7', '--gold', '7', '--extract=lenient'])).out);
    expect(single).toMatchObject({ pred: 'Answer: 7', gold: '7', equal: true });
    await expect(run(['--pred', '7', '--gold', '7', '--extract', 'loose'])).rejects.toThrow(
      /--extract: Invalid option/,
    );
  });

  it('names the file and line of a bad row', async () => {
    const file = path.join(dir, 'bad.jsonl');
    await writeFile(file, '{"pred":"1","gold":"1","equal":true}\n{"pred":"1","gold":"1","equal":"yes"}\n');
    await expect(run(['--cases', file])).rejects.toThrow(`${file}:2: field "equal": Invalid input`);
    await writeFile(file, '{"pred":"1","gold":"1","equal":true}\n{not json\n');
    await expect(run(['--cases', file])).rejects.toThrow(`${file}:2: invalid JSON`);
  });

  it('rejects incomplete or conflicting arguments as usage errors', async () => {
    await expect(run([])).rejects.toThrow(UsageError);
    await expect(run(['--pred', '1'])).rejects.toThrow(UsageError);
    await expect(run(['--cases', 'x.jsonl', '--pred', '1', '--gold', '1'])).rejects.toThrow(UsageError);
    await expect(run(['--pred', '1', '--gold', '1', '--time-limit', '-5'])).rejects.toThrow(UsageError);
  });
});

describe('parseGradingCases', () => {
  it('requires pred (string or null), gold and equal', () => {
    expect(() => parseGradingCases('{"gold":"1","equal":true}', 'f.jsonl')).toThrow(
      'f.jsonl:1: field "pred": is missing',
    );
    expect(parseGradingCases('\n{"pred":null,"gold":"1","equal":false}\n', 'f.jsonl')).toEqual([
      { pred: null, gold: '1', equal: false, line: 2 },
    ]);
  });
});
