import { parseJsonBody } from '../http/body.js';
import type { Handler } from './context.js';
import { planGeneration, samplingInput } from './generate.js';
import { admitText } from './admission.js';
import { checkModel } from './models.js';
import { completionBodySchema } from './schemas.js';
import { serveGeneration, serveOptions } from './serve-generation.js';
import { completionShape } from './shapes.js';

/** POST /v1/completions: the raw prompt (text or token ids) is continued as is. */
export const completions: Handler = async (server, rc) => {
  const body = await parseJsonBody(rc.req, server.maxBodyBytes, completionBodySchema, rc.signal);
  checkModel(server, body.model);
  if (typeof body.prompt === 'string') {
    await admitText(server.engine.tokenizer, body.prompt, server.engine.contextLength, 'prompt');
  }
  const plan = planGeneration(server.engine, server.maxTokensLimit, {
    prompt: body.prompt,
    promptParam: 'prompt',
    maxTokens: body.max_tokens,
    maxTokensParam: 'max_tokens',
    ...samplingInput(body),
  });
  return serveGeneration(server, rc, completionShape, plan, serveOptions(body));
};
