import { z } from 'zod';
import { resolveModelSource } from '../../engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../engine/tokenizer.js';
import { threadTagIds } from '../../trie/sft.js';
import { EXPORT_FORMATS, exportRollouts } from '../../../rl/export.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { interrupted, interruptible } from '../interrupt.js';
import { ThreadweaverError } from '../../errors.js';

const schema = z.object({
  input: z.string({ error: 'is required' }).min(1),
  out: z.string({ error: 'is required' }).min(1),
  format: z.enum(EXPORT_FORMATS, { error: `must be one of ${EXPORT_FORMATS.join(', ')}` }),
  onlyCorrect: z.boolean().optional(),
  model: z.string().min(1).optional(),
});

const usage = `Usage: threadweaver export --input ROLLOUTS.jsonl --format sft|trie|rl --out FILE.jsonl [--only-correct] [--model DIR]

Turn rollout rows (threadweaver rollout) into training rows (see docs/training-data.md).
  --input FILE      the final rollouts file
  --format sft      {"messages": [...]} chat rows (TRL conversational format), one per trajectory
           trie     {"ids", "parent", "position", "branch", "loss"} trie-packed SFT rows, one per trajectory
           rl       {"prompt_ids", "response_ids", "advantage", "reward", "problem_id", "trajectory", "role", ...},
                    one per engine call, the trajectory's advantage broadcast to each
  --out FILE        the JSONL to write (only written when every row is valid)
  --only-correct    keep only trajectories graded correct
  --model DIR       tokenizer for --format trie (default: the bundled models/tiny-threadweaver; others ignore it)`;

const command: Command = {
  name: 'export',
  summary: 'export rollouts as SFT chat rows, trie-packed rows, or per-call RL rows',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        input: { type: 'string' },
        out: { type: 'string' },
        format: { type: 'string' },
        'only-correct': { type: 'boolean' },
        model: { type: 'string' },
      },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    let tokenizer: HFTokenizer | undefined;
    if (values.format === 'trie') {
      const source = resolveModelSource(values.model);
      tokenizer = await loadTokenizer(source);
      try {
        threadTagIds(tokenizer);
      } catch (err) {
        const where = source.kind === 'local' ? source.dir : source.id;
        throw new ThreadweaverError(`tokenizer ${where}: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
    }
    const r = await interruptible((signal) =>
      exportRollouts({
        input: values.input,
        out: values.out,
        format: values.format,
        onlyCorrect: values.onlyCorrect,
        tokenizer,
        signal,
      }),
    );
    if (!r) return interrupted('export', values.out);
    const kept = r.exported === r.read ? `${r.read} trajectories` : `${r.exported} of ${r.read} trajectories`;
    process.stderr.write(`export: ${kept} → ${r.rows} ${values.format} rows → ${values.out}\n`);
    return 0;
  },
};

export default command;
