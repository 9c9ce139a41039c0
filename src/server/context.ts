import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../engine/types.js';
import type { FairQueue } from './queue.js';

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
  res: ServerResponse;
  /** The path's tail after a route prefix (e.g. the id in /v1/models/{id}). */
  param?: string;
  /** Aborted when the client goes away or the server shuts down; the reason is the error to answer. */
  signal: AbortSignal;
  /** Whom the fair queue rotates between: the peer address. */
  client: string;
}

export type Handler = (server: ServerContext, request: RequestContext) => Promise<void>;
