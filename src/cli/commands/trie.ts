import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { resolveModelSource } from '../../engine/model-source.js';
import { loadTokenizer } from '../../engine/tokenizer.js';
import { sftLayout, threadTagIds } from '../../trie/sft.js';
import { parseJsonLine } from '../../jsonl.js';

const usage = `Usage: threadweaver trie --input FILE.jsonl --out FILE.jsonl [--model DIR]

Lay out SFT trajectories as token tries (see docs/training-data.md).
  --input FILE   JSONL rows {"prompt": ..., "completion": ...} (prompt already chat-templated)
  --out FILE     JSONL rows {"ids", "parent", "position", "branch", "loss"}, one per input row
  --model DIR    tokenizer folder (default: the bundled models/tiny-threadweaver)`;

const ArgsSchema = z.object({
  input: z.string({ error: 'is required' }),
  out: z.string({ error: 'is required' }),
  model: z.string().optional(),
});

const RowSchema = z.object({ prompt: z.string(), completion: z.string() });

const trie: Command = {
  name: 'trie',
  summary: 'Flatten SFT trajectories into trie layouts (ids, parent, position, branch, loss)',
  usage,
  async run(args) {
    const { values } = parseCommandArgs(
      args,
      { input: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' } },
      ArgsSchema,
    );
    const source = resolveModelSource(values.model);
    const tokenizer = await loadTokenizer(source);
    try {
      threadTagIds(tokenizer);
    } catch (err) {
      const where = source.kind === 'local' ? source.dir : source.id;
      throw new Error(`tokenizer ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // Write beside the target and rename at the end, so a bad row leaves no half-written file.
    const partial = `${values.out}.partial`;
    const out = await open(partial, 'w');
    let rows = 0;
    let tokens = 0;
    try {
      const lines = createInterface({ input: createReadStream(values.input), crlfDelay: Infinity });
      let lineNumber = 0;
      for await (const line of lines) {
        lineNumber++;
        if (line.trim() === '') continue;
        const where = `${values.input}:${lineNumber}`;
        const row = parseJsonLine(line, where, RowSchema);
        let layout;
        try {
          layout = sftLayout(row, tokenizer);
        } catch (err) {
          throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        const { ids, parent, position, branch, loss } = layout;
        await out.write(JSON.stringify({ ids, parent, position, branch, loss }) + '\n');
        rows++;
        tokens += ids.length;
      }
      await out.close();
      await rename(partial, values.out);
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw err;
    }
    console.error(`trie: ${rows} rows, ${tokens} tokens → ${values.out}`);
    return 0;
  },
};

export default trie;
