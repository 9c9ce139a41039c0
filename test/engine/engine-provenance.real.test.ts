import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { describeEngine, fileSha256, tokenizerSha256 } from '../../src/engine/provenance.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { repoRoot } from '../support/helpers.js';
import { ScriptedEngine } from '../support/scripted-engine.js';

describe('engine provenance', () => {
  it("the embedded engine names its model folder, the ONNX file it loaded and that file's sha256", async () => {
    const engine = await embeddedEngine();
    const p = (await describeEngine(engine))!;
    // The graph actually loaded: the append-only KV graph, not the original one beside it.
    expect(engine.graphFile).toBe('onnx/model_append_quantized.onnx');
    const file = path.join(repoRoot, 'models/tiny-threadweaver', engine.graphFile);
    expect(p).toEqual({
      model: path.join(repoRoot, 'models/tiny-threadweaver'),
      modelFile: file,
      modelSha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
      dtype: 'q8',
      engine: 'embedded',
      contextLength: engine.contextLength,
      tokenizerSha256: tokenizerSha256(engine.tokenizer),
    });
  });

  it('a tokenizer is named by its content: the same files give one hash, an added token another', async () => {
    const engine = await embeddedEngine();
    const hash = tokenizerSha256(engine.tokenizer)!;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const again = await loadTokenizer(resolveModelSource());
    expect(again).not.toBe(engine.tokenizer);
    expect(tokenizerSha256(again)).toBe(hash);
    expect(tokenizerSha256(again.withAddedTokens(['<extra_token>']))).not.toBe(hash);
    expect(tokenizerSha256(new ScriptedEngine(() => '').tokenizer)).toBeNull();
  });

  it('hashes a file once per version of it (path, size, modification time)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tw-sha-'));
    try {
      const file = path.join(dir, 'w.onnx');
      await writeFile(file, 'weights v1');
      const when = new Date('2026-01-01T00:00:00Z');
      await utimes(file, when, when);
      const v1 = createHash('sha256').update('weights v1').digest('hex');
      expect(await fileSha256(file)).toBe(v1);
      // Same path, size and modification time: the stored hash, the file is not read again.
      await writeFile(file, 'weights v9');
      await utimes(file, when, when);
      expect(await fileSha256(file)).toBe(v1);
      // A new version of the file is hashed anew.
      await utimes(file, when, new Date('2026-01-02T00:00:00Z'));
      expect(await fileSha256(file)).toBe(createHash('sha256').update('weights v9').digest('hex'));
      await expect(fileSha256(path.join(dir, 'missing.onnx'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
