import { ApiError } from '../http/errors.js';
import type { Handler, ServerContext } from './context.js';
import { jsonResponse } from '../http/response.js';

function modelObject(server: ServerContext) {
  // `max_model_len` is vLLM's extra: clients can learn the context length from it.
  return {
    id: server.modelName,
    object: 'model',
    created: server.startedAt,
    owned_by: 'threadweaver',
    max_model_len: server.engine.contextLength,
  };
}

/** The 404 of a model id the server does not serve (as OpenAI answers it), naming those it does. */
export function modelNotFound(model: string, served: readonly string[]): ApiError {
  return new ApiError(
    404,
    `the model '${model}' does not exist: this server serves ${served.map((id) => `'${id}'`).join(', ')}`,
    'not_found_error',
    'model',
    'model_not_found',
  );
}

/** A request's `model` must be the served name when given (as vLLM checks); absent means that one. */
export function checkModel(server: ServerContext, model: string | null | undefined): void {
  if (model != null && model !== server.modelName) throw modelNotFound(model, [server.modelName]);
}

export const listModels: Handler = async (server) => jsonResponse(200, { object: 'list', data: [modelObject(server)] });

export const getModel: Handler = async (server, { param }) => {
  checkModel(server, param);
  return jsonResponse(200, modelObject(server));
};
