import type { Handler } from './context.js';
import { sendJson } from './respond.js';

/** GET /health: up, which model, and how busy (never behind the API key). */
export const health: Handler = async (server, { res }) => {
  sendJson(res, 200, { status: 'ok', model: server.modelName, ...server.queue.stats });
};
