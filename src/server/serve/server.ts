import type { IncomingMessage } from 'node:http';
import type { Engine } from '../../engine/types.js';
import { bearerAuth } from '../http/auth.js';
import { admitJsonBody } from '../http/body.js';
import { chatCompletions } from './chat.js';
import { completions } from './completions.js';
import type { Handler, ServerContext } from './context.js';
import { ApiError } from '../http/errors.js';
import { health } from './health.js';
import { startHost, type Host, type HostOptions, type RequestHandler } from '../http/host.js';
import { getModel, listModels } from './models.js';
import { FairQueue } from '../http/queue.js';
import { ThreadweaverError } from '../../errors.js';

/**
 * Options of startServer: the engine, API key, model id, request limits, concurrency and extra
 * routes, over the host's options.
 */
export interface ServerOptions extends HostOptions {
  engine: Engine;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** The model id clients see and send (default: the engine's name). */
  modelName?: string | undefined;
  /** Largest request body (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number | undefined;
  /** Largest `max_tokens` accepted (default: the engine's context length); larger gets 400. */
  maxTokensLimit?: number | undefined;
  /** Generations run at once (default 4); the rest wait in the fair queue. */
  maxConcurrent?: number | undefined;
  /** Generations that may wait (default 256); beyond that, 503. */
  maxQueued?: number | undefined;
  /** Routes answered instead of the model API (the gateway's); see RouteTable. */
  routes?: RouteTable | undefined;
}

/** A running model server: its host, and the base URL OpenAI clients take. */
export interface RunningServer extends Host {
  /** `url + '/v1'`: what OpenAI clients take as their base URL. */
  baseURL: string;
}

/** One path's handlers by HTTP method, and whether the API key guards it. */
export interface Route {
  methods: Partial<Record<string, Handler>>;
  /**
   * Whether the API key guards it (when the server has one). A guarded route without methods
   * guards a namespace: any other path under it is refused without the key and is 404 with it.
   */
  guarded: boolean;
}

/**
 * Routes by path; a key ending in `/*` matches any longer path (the longest such prefix wins),
 * whose decoded tail is the handler's `param`.
 */
export type RouteTable = Record<string, Route>;

const routes: RouteTable = {
  '/health': { methods: { GET: health }, guarded: false },
  '/v1/models': { methods: { GET: listModels }, guarded: true },
  '/v1/completions': { methods: { POST: completions }, guarded: true },
  '/v1/chat/completions': { methods: { POST: chatCompletions }, guarded: true },
  '/v1/models/*': { methods: { GET: getModel }, guarded: true },
  '/v1/*': { methods: {}, guarded: true },
};

/**
 * The path of a request target: origin-form (`/v1/models?x`) or absolute-form
 * (`http://host/v1/models`), without the query, repeated slashes merged (`//v1/models` is
 * `/v1/models`, as clients that join a base URL ending in `/` send it) and a trailing slash
 * dropped (`/v1/models/` is `/v1/models`).
 */
export function requestPath(target: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return path;
    }
  }
  const clean = path.replace(/[?#].*$/s, '').replace(/\/{2,}/g, '/');
  return clean.length > 1 ? clean.replace(/\/$/, '') : clean;
}

function findRoute(pathname: string, table: RouteTable): { route: Route; param?: string } | undefined {
  const exact = table[pathname];
  if (exact) return { route: exact };
  let best: { prefix: string; route: Route } | undefined;
  for (const [key, route] of Object.entries(table)) {
    const prefix = key.endsWith('/*') ? key.slice(0, -1) : undefined;
    if (prefix === undefined || !pathname.startsWith(prefix) || pathname.length <= prefix.length) continue;
    if (!best || prefix.length > best.prefix.length) best = { prefix, route };
  }
  if (!best) return undefined;
  try {
    return { route: best.route, param: decodeURIComponent(pathname.slice(best.prefix.length)) };
  } catch {
    return undefined; // malformed %-escapes name nothing
  }
}

const noRoute = (req: IncomingMessage, pathname: string) =>
  new ApiError(404, `no route for ${req.method} ${pathname}`, 'not_found_error', null, 'unknown_url');

/**
 * The request handler of an OpenAI-compatible API over `options.engine`: the route table (the
 * model API, or the gateway's), the API key on guarded routes, a JSON body's admission, then the
 * route's handler. startServer runs it on a host.
 */
export function apiHandler(options: ServerOptions): RequestHandler {
  const { engine } = options;
  const maxTokensLimit = options.maxTokensLimit ?? engine.contextLength;
  if (!(Number.isInteger(maxTokensLimit) && maxTokensLimit >= 1))
    throw new ThreadweaverError(`startServer: maxTokensLimit must be a positive integer, got ${maxTokensLimit}`);
  const context: ServerContext = {
    engine,
    modelName: options.modelName ?? engine.name,
    maxTokensLimit,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    queue: new FairQueue(options.maxConcurrent ?? 4, options.maxQueued ?? 256),
    startedAt: Math.floor(Date.now() / 1000),
  };
  const authorize = options.apiKey ? bearerAuth(options.apiKey) : undefined;
  const table = options.routes ?? routes;

  return async (req, { signal, writeContinue }) => {
    const pathname = requestPath(req.url ?? '/');
    const found = findRoute(pathname, table);
    if (!found) throw noRoute(req, pathname);
    if (authorize && found.route.guarded) authorize(req.headers);
    const methods = Object.keys(found.route.methods);
    if (methods.length === 0) throw noRoute(req, pathname);
    // HEAD is GET without the body (node sends no body for a HEAD request): container probes send it.
    const handler = found.route.methods[req.method === 'HEAD' ? 'GET' : (req.method ?? '')];
    if (!handler) {
      const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
      throw new ApiError(
        405,
        `${pathname} does not accept ${req.method}; use ${allow}`,
        'invalid_request_error',
        null,
        'method_not_allowed',
        { Allow: allow },
      );
    }
    // Every POST route takes a JSON body: refuse what its headers allow before any byte is read.
    if (req.method === 'POST') admitJsonBody(req, writeContinue, context.maxBodyBytes);
    return handler(context, { req, signal, client: req.socket.remoteAddress ?? 'unknown', param: found.param });
  };
}

/** An OpenAI-compatible HTTP server over `engine` (node:http only): apiHandler on a host. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = await startHost(apiHandler(options), options);
  return Object.assign(host, { baseURL: `${host.url}/v1` });
}
