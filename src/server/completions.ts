import { parseJsonBody } from './body.js';
import type { Handler } from './context.js';
import { planGeneration } from './generate.js';
import { checkModel } from './models.js';
import { completionBodySchema } from './schemas.js';
import { serveGeneration } from './serve-generation.js';
import { completionShape } from './shapes.js';

/** POST /v1/completions: the raw prompt (text or token ids) is continued as is. */
export const completions: Handler = async (server, rc) => {
  const body = await parseJsonBody(rc.req, server.maxBodyBytes, completionBodySchema);
  checkModel(server, body.model);
  const plan = planGeneration(server.engine, server.maxTokensLimit, {
    prompt: body.prompt,
    promptParam: 'prompt',
    maxTokens: body.max_tokens,
    maxTokensParam: 'max_tokens',
    stop: body.stop,
    n: body.n,
    temperature: body.temperature,
    topP: body.top_p,
    seed: body.seed,
  });
  await serveGeneration(server, rc, completionShape, plan, {
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    withIds: body.return_token_ids !== false,
  });
};
