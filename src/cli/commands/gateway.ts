import { z } from 'zod';
import { DECOMPOSE_POLICIES } from '../../decompose/run.js';
import { DEFAULT_GATEWAY_MODEL, startGateway } from '../../server/gateway/gateway.js';
import type { RunningServer } from '../../server/server.js';
import { parseCommandArgs } from '../args.js';
import { LOOPBACK, serverFlagOptions, serverFlagSchema, serverOptionsFromFlags } from '../server-flags.js';
import { UsageError, type Command } from '../command.js';
import { untilSignal } from '../until-signal.js';
import { engineFlagOptions, engineFlagSchema, engineFlagUsage } from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';

const schema = engineFlagSchema.extend(serverFlagSchema.shape).extend(presetFlagSchema.shape).extend({
  upstreamApiKey: z.string().min(1).optional(),
  decompose: z.boolean().optional(),
  extractor: z.enum(DECOMPOSE_POLICIES).optional(),
});

const usage = `Usage: threadweaver gateway [options]

Parallel reasoning behind OpenAI's chat API: POST /v1/chat/completions runs a fork/join
reasoning run on the last user message (model "threadweaver", "threadweaver-parallel" or
"threadweaver-sequential"); GET / is a live web view. See docs/gateway.md.

Options:
  --host H                  interface to bind (default 127.0.0.1: this machine only)
  --port P                  port (default 8080; 0 picks a free one)
  --api-key K               require "Authorization: Bearer K" on /v1/* (default: $THREADWEAVER_API_KEY)
  --upstream-api-key K      the bearer token of the --base-url servers (default: $OPENAI_API_KEY)
  --served-model-name NAME  the base model id (default ${DEFAULT_GATEWAY_MODEL})
  --max-tokens-limit N      refuse response budgets above N (default: the context length)
  --max-concurrent N        runs decoded at once (default 4); others wait their turn
  --max-queued N            runs that may wait (default 256); beyond that, 503
  --max-body-bytes N        largest request body (default 1048576)
  --quiet                   no request log on stderr
  --decompose               also serve "<model>-decompose": prompt-level forks for models never
                            trained to fork (each input of the prompt answered at once)
  --extractor rules|model|auto  how -decompose finds the inputs (default auto: lists, then the model)
${presetFlagUsage}
                        (its prompt, and its solve sampling and budget for requests that do not set them)
${engineFlagUsage}`;

const command: Command = {
  name: 'gateway',
  summary: 'parallel reasoning behind the OpenAI chat API, with a live web view',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...engineFlagOptions,
        ...serverFlagOptions,
        ...presetFlagOptions,
        'upstream-api-key': { type: 'string' },
        decompose: { type: 'boolean' },
        extractor: { type: 'string' },
      },
      schema,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    // --api-key guards the gateway, as it guards serve; the servers behind it get their own key.
    const { apiKey: ownKey, upstreamApiKey, decompose, extractor, ...engineFlags } = values;
    if (upstreamApiKey && !values.baseUrl?.length) throw new UsageError('--upstream-api-key only applies with --base-url');
    const apiKey = ownKey ?? (process.env.THREADWEAVER_API_KEY || undefined);
    const host = values.host ?? '127.0.0.1';
    const run = presetRun(values, 'solve');
    const { prompt, temperature, topP, maxTokens, format } = run.resolved.settings;
    const engine = await engineFromPreset({ ...engineFlags, ...(upstreamApiKey ? { apiKey: upstreamApiKey } : {}) }, run);
    const server: RunningServer = await startGateway({
      engine,
      ...serverOptionsFromFlags(values, 8080),
      ...(apiKey ? { apiKey } : {}),
      prompt,
      format,
      ...(decompose || extractor ? { decompose: extractor ?? 'auto' } : {}),
      defaults: { temperature, topP, ...(maxTokens !== null ? { maxTokens } : {}) },
    });
    if (!apiKey && !LOOPBACK.has(host)) {
      process.stderr.write(`warning: listening on ${host} without an API key: anyone who can reach it can use it\n`);
    }
    process.stdout.write(`threadweaver gateway: ${engine.name} at ${server.baseURL}${apiKey ? ' (API key required)' : ''}; live view at ${server.url}/\n`);
    await untilSignal('gateway', server);
    await engine.close?.();
    return 0;
  },
};

export default command;
