import { z } from 'zod';
import { resolveModelSource } from '../../engine/model-source.js';
import { withoutChatTemplate } from '../../engine/plain-template.js';
import { loadTokenizer } from '../../engine/tokenizer.js';
import { buildPrompt } from '../../orchestrator/prompt.js';
import { presetTokenizer } from '../../solve/preset.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';

const schema = presetFlagSchema.extend({
  tokenizer: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  mode: z.enum(['parallel', 'sequential']).optional(),
  promptStyle: z.enum(['trained', 'instructed']).optional(),
  chatTemplate: z.enum(['model', 'none']).optional(),
  ids: z.boolean().optional(),
});

const usage = `Usage: threadweaver prompt [options] "problem"

Print the prompt exactly as solve, eval and rollout send it (the chat-templated text, byte for
byte, with no newline added), or its token ids. Needs no server.

Options:
  --mode parallel|sequential   (default parallel)
  --ids                 print the token ids as a JSON array instead
  --tokenizer DIR|ID    the served model's tokenizer (default: the preset's, with its added tokens)
  --model DIR|ID        an in-process model whose tokenizer to use (default: the preset's)
  --prompt-style trained|instructed   override the preset's
  --chat-template none  the bare message text, no chat template
${presetFlagUsage}`;

const command: Command = {
  name: 'prompt',
  summary: 'print the exact prompt (or its token ids) a preset sends for a problem',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...presetFlagOptions,
        tokenizer: { type: 'string' },
        model: { type: 'string' },
        mode: { type: 'string' },
        'prompt-style': { type: 'string' },
        'chat-template': { type: 'string' },
        ids: { type: 'boolean' },
      },
      schema,
    );
    const problem = positionals.join(' ');
    if (!problem.trim()) throw new UsageError('give the problem as an argument');
    if (values.tokenizer && values.model) throw new UsageError('give --tokenizer or --model, not both');
    const { preset, resolved, dialect: format } = presetRun(values, 'solve');
    const loaded = values.model
      ? await loadTokenizer(resolveModelSource(values.model))
      : ((await presetTokenizer(preset, values.tokenizer)) ??
        (await loadTokenizer(resolveModelSource(preset.model ?? undefined))));
    const tokenizer = resolved.settings.chatTemplate === 'none' ? withoutChatTemplate(loaded) : loaded;
    const dialect = format.name;
    const prompt = buildPrompt(
      tokenizer,
      problem,
      values.mode ?? 'parallel',
      resolved.settings.prompt,
      undefined,
      dialect,
    );
    process.stdout.write(values.ids ? JSON.stringify(tokenizer.encode(prompt)) + '\n' : prompt);
    return 0;
  },
};

export default command;
