import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import trie from '../../src/cli/commands/trie.js';
import { UsageError } from '../../src/cli/command.js';
import { readVectors, vendoredTrieVectors } from '../support/trie-fixtures.js';
import { runCli } from '../support/cli-process.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trie-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('threadweaver trie', () => {
  it('writes the reference layout for every row (extra input fields ignored)', async () => {
    const out = path.join(dir, 'out.jsonl');
    expect(await trie.run(['--input', vendoredTrieVectors, '--out', out])).toBe(0);
    const written = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as object);
    const expected = readVectors(vendoredTrieVectors).map(({ ids, parent, position, branch, loss }) => ({
      ids,
      parent,
      position,
      branch,
      loss,
    }));
    expect(written).toEqual(expected);
  });

  it('names the file and line of a bad row and leaves no output', async () => {
    const input = path.join(dir, 'bad.jsonl');
    const out = path.join(dir, 'bad-out.jsonl');
    writeFileSync(input, '{"prompt": "a", "completion": "b"}\n\n{"prompt": "a"}\n');
    await expect(trie.run(['--input', input, '--out', out])).rejects.toThrow(`${input}:3: `);
    await expect(trie.run(['--input', input, '--out', out])).rejects.toThrow(/field "completion": is missing/);
    writeFileSync(input, '{"prompt": "a", "completion": "b"}\nnot json\n');
    await expect(trie.run(['--input', input, '--out', out])).rejects.toThrow(`${input}:2: invalid JSON`);
    expect(existsSync(out)).toBe(false);
    // Nothing half-written is left beside it either.
    expect(readdirSync(path.dirname(out)).filter((n) => n.startsWith(path.basename(out)))).toEqual([]);
  });

  it('requires --input and --out, and checks --model', async () => {
    await expect(trie.run(['--out', path.join(dir, 'x.jsonl')])).rejects.toThrow(UsageError);
    await expect(trie.run(['--input', vendoredTrieVectors])).rejects.toThrow(/--out/);
    await expect(
      trie.run(['--input', vendoredTrieVectors, '--out', path.join(dir, 'y.jsonl'), '--model', path.join(dir, 'nope')]),
    ).rejects.toThrow(/folder not found/);
  });

  it('Ctrl-C while reading a slow input: exit 130, the output is not written and nothing half-written is left', async () => {
    // The input is a pipe the test feeds by hand, so the command is surely mid-file when interrupted.
    const input = path.join(dir, 'slow.fifo');
    execFileSync('mkfifo', [input]);
    const out = path.join(dir, 'slow-out.jsonl');
    const rows = readFileSync(vendoredTrieVectors, 'utf8').split('\n').filter(Boolean);
    let fed = false;
    const running = runCli(['trie', '--input', input, '--out', out], { interruptWhen: () => fed });
    const pipe = await open(input, 'w'); // resolves once the command opened it for reading
    await pipe.write(rows[0] + '\n');
    fed = true;
    while (!(await Promise.race([running.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]))) {
      // Feed on after the interrupt until the command has gone: it must stop at the next row.
      await pipe.write(rows[1] + '\n').catch(() => undefined);
    }
    await pipe.close().catch(() => undefined);
    const r = await running;
    expect(r.interrupted).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain(`threadweaver trie: interrupted; ${out} was not written`);
    expect(readdirSync(dir).filter((n) => n.startsWith('slow-out'))).toEqual([]);
  });
});
