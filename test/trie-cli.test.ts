import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import trie from '../src/cli/commands/trie.js';
import { UsageError } from '../src/cli/command.js';
import { readVectors, vendoredTrieVectors } from './trie-fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trie-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('threadweaver trie', () => {
  it('writes the reference layout for every row (extra input fields ignored)', async () => {
    const out = path.join(dir, 'out.jsonl');
    expect(await trie.run(['--input', vendoredTrieVectors, '--out', out])).toBe(0);
    const written = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as object);
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
});
