import { z } from 'zod';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { resolveModelSource } from '../../engine/model-source.js';
import { loadTokenizer } from '../../engine/tokenizer.js';
import { sftLayout, threadTagIds } from '../../trie/sft.js';
import { writeAtomically } from '../../internal/files.js';
import { interrupted, interruptible } from '../interrupt.js';
import { parseJsonLine, readJsonLines } from '../../internal/jsonl.js';
import { ThreadweaverError } from '../../errors.js';

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
      throw new ThreadweaverError(`tokenizer ${where}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    // Written beside the target and renamed at the end, so a bad row or Ctrl-C leaves no half-written file.
    const written = await interruptible((signal) =>
      writeAtomically(values.out, async (out) => {
        let rows = 0;
        let tokens = 0;
        for await (const { row, line } of readJsonLines(
          values.input,
          (text, where) => parseJsonLine(text, where, RowSchema),
          { signal },
        )) {
          let layout;
          try {
            layout = sftLayout(row, tokenizer);
          } catch (err) {
            throw new ThreadweaverError(
              `${values.input}:${line}: ${err instanceof Error ? err.message : String(err)}`,
              {
                cause: err,
              },
            );
          }
          const { ids, parent, position, branch, loss } = layout;
          await out.write(JSON.stringify({ ids, parent, position, branch, loss }) + '\n');
          rows++;
          tokens += ids.length;
        }
        return { rows, tokens };
      }),
    );
    if (!written) return interrupted('trie', values.out);
    const { rows, tokens } = written;
    console.error(`trie: ${rows} rows, ${tokens} tokens → ${values.out}`);
    return 0;
  },
};

export default trie;
