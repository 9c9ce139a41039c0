import { z } from 'zod';
import { resolveTokenizer } from '../../engine/remote/openai.js';
import { startViewer } from '../../server/viewer/viewer.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { untilSignal } from '../until-signal.js';

const schema = z.object({
  host: z.string().min(1).optional(),
  port: intFlag().min(0).max(65535).optional(),
  tokenizer: z.string().min(1).optional(),
  quiet: z.boolean().optional(),
});

const usage = `Usage: threadweaver view RUN_DIR [options]

Browse an eval run folder (results.jsonl) or RL rollouts (a folder of rollout .jsonl files, or
one file) in the browser: the summary and charts, a table of problems (filter by outcome, mode,
family; sort by speedup), and each problem's parallel and sequential samples side by side.

Options:
  --port P            port (default 8090; 0 picks a free one)
  --host H            interface to bind (default 127.0.0.1)
  --tokenizer DIR|ID  counts the tokens of rows stored without ids (default: the bundled model's)
  --quiet             no request log on stderr`;

const command: Command = {
  name: 'view',
  summary: 'browse an eval or rollout run in the browser',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      { host: { type: 'string' }, port: { type: 'string' }, tokenizer: { type: 'string' }, quiet: { type: 'boolean' } },
      schema,
    );
    if (positionals.length !== 1)
      throw new UsageError(positionals.length ? `one run folder, not ${positionals.length}` : 'give the run folder');
    const viewer = await startViewer({
      target: positionals[0]!,
      host: values.host ?? '127.0.0.1',
      port: values.port ?? 8090,
      ...(values.tokenizer ? { tokenizer: await resolveTokenizer(values.tokenizer) } : {}),
      ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) }),
    });
    process.stdout.write(`threadweaver view: ${positionals[0]} at ${viewer.url}/\n`);
    await untilSignal('view', viewer);
    return 0;
  },
};

export default command;
