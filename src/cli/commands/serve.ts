import { startServer } from '../../server/index.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { embeddedEngineFlagUsage, engineFlagOptions, engineFlagSchema } from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetRun } from '../preset-flags.js';
import {
  announceServer,
  serverFlagOptions,
  serverFlagSchema,
  serverFlagUsage,
  serverOptionsFromFlags,
} from '../server-flags.js';
import { untilSignal } from '../until-signal.js';

const schema = engineFlagSchema.extend(presetFlagSchema.shape).extend(serverFlagSchema.shape);

const usage = `Usage: threadweaver serve [options]

Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions,
/v1/models, /health). See docs/serve.md.

Options:
${serverFlagUsage({ port: 8000, what: 'generations run', modelName: "the model id clients see (default: the model's name)" })}
  --preset NAME|FILE        a preset of an in-process model (tiny, the default); a preset of a model
                            served by vLLM or SGLang applies to its GGUF file (--model FILE.gguf)
${embeddedEngineFlagUsage}`;

const command: Command = {
  name: 'serve',
  summary: 'serve the model over an OpenAI-compatible HTTP API',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...engineFlagOptions, ...presetFlagOptions, ...serverFlagOptions },
      schema,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.baseUrl?.length) throw new UsageError('serve runs the embedded engine: --base-url is not for serve');
    const run = presetRun(values, 'solve');
    if (run.preset.engine !== 'embedded' && !values.model) {
      throw new UsageError(
        `serve runs a model in-process; preset ${run.preset.name} is for a model served by vLLM or SGLang (use it with solve, eval or gateway and --base-url)`,
      );
    }
    const { apiKey: _, ...engineFlags } = values;
    const engine = await engineFromPreset(engineFlags, run);
    const options = serverOptionsFromFlags(values, 8000);
    const server = await startServer({ engine, ...options });
    announceServer('serve', options, `${values.servedModelName ?? engine.name} at ${server.baseURL}`);
    await untilSignal('serve', server, options.shutdownGraceMs, values.exitWithParent ?? 'auto');
    await engine.close?.();
    return 0;
  },
};

export default command;
