import { z } from 'zod';
import { DECOMPOSE_POLICIES } from '../../decompose/run.js';
import { DEFAULT_GATEWAY_MODEL, startGateway } from '../../server/gateway/gateway.js';
import { presetClientSystem } from '../../solve/preset.js';
import type { RunningServer } from '../../server/serve/server.js';
import { parseCommandArgs } from '../args.js';
import {
  announceServer,
  serverFlagOptions,
  serverFlagSchema,
  serverFlagUsage,
  serverOptionsFromFlags,
} from '../server-flags.js';
import { UsageError, type Command } from '../command.js';
import { untilSignal } from '../until-signal.js';
import { engineFlagOptions, engineFlagSchema, engineFlagUsage } from '../engine-flags.js';
import { engineFromPreset, presetFlagOptions, presetFlagSchema, presetFlagUsage, presetRun } from '../preset-flags.js';

const schema = engineFlagSchema
  .extend(serverFlagSchema.shape)
  .extend(presetFlagSchema.shape)
  .extend({
    upstreamApiKey: z.string().min(1).optional(),
    decompose: z.boolean().optional(),
    extractor: z.enum(DECOMPOSE_POLICIES).optional(),
    reasoningField: z.enum(['reasoning', 'reasoning_content', 'both']).optional(),
    reasoningTags: z.enum(['strip', 'keep']).optional(),
    clientSystem: z.enum(['keep', 'drop', 'replace']).optional(),
    systemText: z.string().min(1).optional(),
  });

const usage = `Usage: threadweaver gateway [options]

Parallel reasoning behind OpenAI's chat API: POST /v1/chat/completions runs a fork/join
reasoning run on the last user message (model "threadweaver", "threadweaver-parallel" or
"threadweaver-sequential"); GET / is a live web view. See docs/gateway.md.

Options:
${serverFlagUsage({ port: 8080, what: 'runs decoded', modelName: `the base model id (default ${DEFAULT_GATEWAY_MODEL})` })}
  --upstream-api-key K      the bearer token of the --base-url servers (default: $OPENAI_API_KEY)
  --decompose               also serve "<model>-decompose": prompt-level forks for models never
                            trained to fork (each input of the prompt answered at once)
  --extractor rules|model|auto  how -decompose finds the inputs (default auto: lists, then the model)
  --reasoning-field reasoning|reasoning_content|both   the field of messages and deltas that
                            carries the think text (default both: vLLM and OpenRouter read
                            "reasoning", SGLang, llama.cpp and DeepSeek clients "reasoning_content")
  --reasoning-tags strip|keep   leave <think> and </think> out of that text (default strip, as
                            vLLM's reasoning parsers do) or keep them
  --client-system keep|drop|replace   what becomes of a chat client's system messages (default:
                            the preset's, what its checkpoint was trained with; tiny and
                            threadweaver-qwen3-8b drop them, instructed presets keep them)
  --system-text TEXT        with --client-system replace: the system text used in their place
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
        'reasoning-field': { type: 'string' },
        'reasoning-tags': { type: 'string' },
        'client-system': { type: 'string' },
        'system-text': { type: 'string' },
      },
      schema,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    // --api-key guards the gateway, as it guards serve; the servers behind it get their own key.
    const {
      apiKey: _ownKey,
      upstreamApiKey,
      decompose,
      extractor,
      reasoningField,
      reasoningTags,
      clientSystem,
      systemText,
      ...engineFlags
    } = values;
    if ((clientSystem === 'replace') !== (systemText !== undefined))
      throw new UsageError('--client-system replace and --system-text TEXT go together');
    if (upstreamApiKey && !values.baseUrl?.length)
      throw new UsageError('--upstream-api-key only applies with --base-url');
    const run = presetRun(values, 'solve');
    const { prompt, temperature, topP, maxTokens } = run.resolved.settings;
    const engine = await engineFromPreset({ ...engineFlags, apiKey: upstreamApiKey }, run);
    const options = serverOptionsFromFlags(values, 8080);
    const server: RunningServer = await startGateway({
      engine,
      ...options,
      prompt,
      format: run.dialect,
      ...(decompose || extractor ? { decompose: extractor ?? 'auto' } : {}),
      defaults: { temperature, topP, ...(maxTokens !== null ? { maxTokens } : {}) },
      reasoning: { field: reasoningField, keepTags: reasoningTags === 'keep' },
      clientSystem:
        clientSystem === 'replace'
          ? { client: 'replace', text: systemText! }
          : clientSystem
            ? { client: clientSystem }
            : presetClientSystem(run.preset),
    });
    announceServer('gateway', options, `${engine.name} at ${server.baseURL}`, `; live view at ${server.url}/`);
    await untilSignal('gateway', server, options.shutdownGraceMs, values.exitWithParent ?? 'auto');
    await engine.close?.();
    return 0;
  },
};

export default command;
