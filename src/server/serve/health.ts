import type { Handler } from './context.js';
import { jsonResponse } from '../http/response.js';

/** GET /health: up, which model, and how busy (never behind the API key). */
export const health: Handler = async (server) =>
  jsonResponse(200, { status: 'ok', model: server.modelName, ...server.queue.stats });
