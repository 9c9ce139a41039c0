import type { IncomingMessage } from 'node:http';
import type { Engine } from '../../engine/types.js';
import type { FairQueue } from '../http/queue.js';
import type { HttpResponse } from '../http/response.js';

/** What every handler shares: the engine, its served name, the limits and the admission queue. */
export interface ServerContext {
  engine: Engine;
  modelName: string;
  maxTokensLimit: number;
  maxBodyBytes: number;
  queue: FairQueue;
  /** Unix seconds the server started (the model object's `created`). */
  startedAt: number;
}

/** One request being answered. */
export interface RequestContext {
  req: IncomingMessage;
  /** The path's tail after a route prefix (e.g. the id in /v1/models/{id}). */
  param?: string | undefined;
  /** Aborted when the client goes away or the server shuts down; the reason is the error to answer. */
  signal: AbortSignal;
  /** Whom the fair queue rotates between: the peer address. */
  client: string;
}

/** Answers one route's requests with a response value; a rejection is answered in OpenAI's error shape. */
export type Handler = (server: ServerContext, request: RequestContext) => Promise<HttpResponse>;
