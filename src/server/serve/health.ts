import type { Handler, ServerContext } from './context.js';
import { jsonResponse, type HttpResponse } from '../http/response.js';

/**
 * The health answer: 200 `ok` while the engine can serve, 503 `degraded` with the reason while
 * it cannot (the servers behind it cannot be reached), with the queue's load and `extra`.
 */
export async function healthResponse(server: ServerContext, extra: object = {}): Promise<HttpResponse> {
  const health = (await server.engine.health?.()) ?? { ok: true as const };
  const body = { model: server.modelName, ...extra, ...server.queue.stats };
  if (!health.ok) return jsonResponse(503, { status: 'degraded', reason: health.reason, ...body });
  return jsonResponse(200, { status: 'ok', ...(health.detail ? { detail: health.detail } : {}), ...body });
}

/** GET /health: up, which model, and how busy (never behind the API key). */
export const health: Handler = (server) => healthResponse(server);
