import { z } from 'zod';
import { DEFAULT_SHUTDOWN_GRACE_MS, startServer } from '../../server/index.js';
import { intFlag, numberFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { embeddedEngineFlagUsage, engineFlagOptions, engineFlagSchema } from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetRun } from '../preset-flags.js';

const schema = engineFlagSchema.extend(presetFlagSchema.shape).extend({
  host: z.string().min(1).optional(),
  port: intFlag().min(0).max(65535).optional(),
  apiKey: z.string().min(1).optional(),
  servedModelName: z.string().min(1).optional(),
  maxTokensLimit: intFlag().min(1).optional(),
  maxConcurrent: intFlag().min(1).optional(),
  maxQueued: intFlag().min(0).optional(),
  maxBodyBytes: intFlag().min(1).optional(),
  shutdownGrace: numberFlag().min(0).optional(),
  quiet: z.boolean().optional(),
});

const usage = `Usage: threadweaver serve [options]

Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions,
/v1/models, /health). See docs/serve.md.

Options:
  --host H                  interface to bind (default 127.0.0.1: this machine only)
  --port P                  port (default 8000; 0 picks a free one)
  --api-key K               require "Authorization: Bearer K" on /v1/* (default: $THREADWEAVER_API_KEY)
  --served-model-name NAME  the model id clients see (default: the model's name)
  --max-tokens-limit N      refuse max_tokens above N (default: the context length)
  --max-concurrent N        generations run at once (default 4); others wait their turn
  --max-queued N            generations that may wait (default 256); beyond that, 503
  --max-body-bytes N        largest request body (default 1048576)
  --shutdown-grace S        on SIGINT/SIGTERM, seconds requests in flight get to finish before
                            they are cut off (default ${DEFAULT_SHUTDOWN_GRACE_MS / 1000}); a second signal exits at once
  --quiet                   no request log on stderr
  --preset NAME|FILE        a preset of an in-process model (tiny, the default); presets of models
                            served by vLLM or SGLang do not apply
${embeddedEngineFlagUsage}`;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

const command: Command = {
  name: 'serve',
  summary: 'serve the model over an OpenAI-compatible HTTP API',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...engineFlagOptions,
        ...presetFlagOptions,
        host: { type: 'string' },
        port: { type: 'string' },
        'api-key': { type: 'string' },
        'served-model-name': { type: 'string' },
        'max-tokens-limit': { type: 'string' },
        'max-concurrent': { type: 'string' },
        'max-queued': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'shutdown-grace': { type: 'string' },
        quiet: { type: 'boolean' },
      },
      schema,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.baseUrl?.length) throw new UsageError('serve runs the embedded engine: --base-url is not for serve');
    const apiKey = values.apiKey ?? (process.env.THREADWEAVER_API_KEY || undefined);
    const host = values.host ?? '127.0.0.1';
    const graceMs = (values.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE_MS / 1000) * 1000;
    const run = presetRun(values, 'solve');
    if (run.preset.engine !== 'embedded' && !values.model) {
      throw new UsageError(`serve runs a model in-process; preset ${run.preset.name} is for a model served by vLLM or SGLang (use it with solve, eval or gateway and --base-url)`);
    }
    const engine = await engineFromPreset(values, run);
    const server = await startServer({
      engine,
      host,
      port: values.port ?? 8000,
      ...(apiKey ? { apiKey } : {}),
      ...(values.servedModelName ? { modelName: values.servedModelName } : {}),
      ...(values.maxTokensLimit ? { maxTokensLimit: values.maxTokensLimit } : {}),
      ...(values.maxConcurrent ? { maxConcurrent: values.maxConcurrent } : {}),
      ...(values.maxQueued !== undefined ? { maxQueued: values.maxQueued } : {}),
      ...(values.maxBodyBytes ? { maxBodyBytes: values.maxBodyBytes } : {}),
      shutdownGraceMs: graceMs,
      ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) }),
    });
    if (!apiKey && !LOOPBACK.has(host)) {
      process.stderr.write(`warning: listening on ${host} without an API key: anyone who can reach it can use it\n`);
    }
    process.stdout.write(`threadweaver serve: ${values.servedModelName ?? engine.name} at ${server.baseURL}${apiKey ? ' (API key required)' : ''}\n`);

    // The first SIGINT/SIGTERM closes gracefully (bounded by the grace period); a second one exits at once.
    let stop: ((signal: NodeJS.Signals) => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        stop = (signal) => {
          if (server.closing) process.exit(signal === 'SIGINT' ? 130 : 143);
          process.stderr.write(`threadweaver serve: ${signal}, closing (requests in flight get ${graceMs / 1000} s; signal again to exit now)\n`);
          void server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    } finally {
      process.off('SIGINT', stop!);
      process.off('SIGTERM', stop!);
    }
    await engine.close?.();
    return 0;
  },
};

export default command;
