import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Engine } from '../engine/types.js';
import { bearerAuth } from './auth.js';
import { chatCompletions } from './chat.js';
import { completions } from './completions.js';
import type { Handler, ServerContext } from './context.js';
import { ApiError } from './errors.js';
import { health } from './health.js';
import { getModel, listModels } from './models.js';
import { FairQueue } from './queue.js';
import { sendError } from './respond.js';

export interface ServerOptions {
  engine: Engine;
  /** Interface to bind (default 127.0.0.1: local clients only). */
  host?: string;
  /** 0 picks a free port (default 0). */
  port?: number;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** The model id clients see and send (default: the engine's name). */
  modelName?: string;
  /** Largest request body (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Largest `max_tokens` accepted (default: the engine's context length); larger gets 400. */
  maxTokensLimit?: number;
  /** Generations run at once (default 4); the rest wait in the fair queue. */
  maxConcurrent?: number;
  /** Generations that may wait (default 256); beyond that, 503. */
  maxQueued?: number;
  /** Called with one line per finished request (method, path, status, time; the stack of a 500). */
  log?: (line: string) => void;
  /** Routes answered instead of the model API (the gateway's); see RouteTable. */
  routes?: RouteTable;
}

export interface RunningServer {
  /** `http://host:port`. */
  url: string;
  /** `url + '/v1'`: what OpenAI clients take as their base URL. */
  baseURL: string;
  host: string;
  port: number;
  /** The underlying node server (for inspection; do not close it directly). */
  server: Server;
  /** Sockets currently open. */
  openConnections(): number;
  /** True once close() was called. */
  readonly closing: boolean;
  /**
   * Stop accepting, abort running generations (their clients get a 503, or an error event in
   * a stream), and resolve once every connection is closed. Idempotent.
   */
  close(): Promise<void>;
}

export interface Route {
  methods: Partial<Record<string, Handler>>;
  /** Whether the API key guards it (everything under /v1). */
  guarded: boolean;
}

/** Routes by path; a key ending in `/*` matches any longer path, whose decoded tail is the handler's `param`. */
export type RouteTable = Record<string, Route>;

const routes: RouteTable = {
  '/health': { methods: { GET: health }, guarded: false },
  '/v1/models': { methods: { GET: listModels }, guarded: true },
  '/v1/completions': { methods: { POST: completions }, guarded: true },
  '/v1/chat/completions': { methods: { POST: chatCompletions }, guarded: true },
  '/v1/models/*': { methods: { GET: getModel }, guarded: true },
};

function findRoute(pathname: string, table: RouteTable): { route: Route; param?: string } | undefined {
  const exact = table[pathname];
  if (exact) return { route: exact };
  for (const [key, route] of Object.entries(table)) {
    const prefix = key.endsWith('/*') ? key.slice(0, -1) : undefined;
    if (prefix === undefined || !pathname.startsWith(prefix) || pathname.length <= prefix.length) continue;
    try {
      return { route, param: decodeURIComponent(pathname.slice(prefix.length)) };
    } catch {
      return undefined; // malformed %-escapes name nothing
    }
  }
  return undefined;
}

/** An OpenAI-compatible HTTP server over `engine` (node:http only). */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { engine } = options;
  const host = options.host ?? '127.0.0.1';
  const maxTokensLimit = options.maxTokensLimit ?? engine.contextLength;
  if (!(Number.isInteger(maxTokensLimit) && maxTokensLimit >= 1)) throw new Error(`startServer: maxTokensLimit must be a positive integer, got ${maxTokensLimit}`);
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

  const sockets = new Set<Socket>();
  const inFlight = new Set<AbortController>();
  let shuttingDown = false;
  const shutdownError = () => new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down');

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    if (shuttingDown) {
      res.shouldKeepAlive = false;
      throw shutdownError();
    }
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (authorize && pathname.startsWith('/v1/')) authorize(req.headers);
    const found = findRoute(pathname, table);
    if (!found) throw new ApiError(404, `no route for ${req.method} ${pathname}`, 'not_found_error', null, 'unknown_url');
    const handler = found.route.methods[req.method ?? ''];
    if (!handler) {
      const allow = Object.keys(found.route.methods).join(', ');
      throw new ApiError(405, `${pathname} does not accept ${req.method}; use ${allow}`, 'invalid_request_error', null, 'method_not_allowed', { Allow: allow });
    }
    await handler(context, { req, res, signal, client: req.socket.remoteAddress ?? 'unknown', ...(found.param !== undefined ? { param: found.param } : {}) });
  }

  const server = createServer((req, res) => {
    const abort = new AbortController();
    inFlight.add(abort);
    const t0 = performance.now();
    let failure = '';
    res.on('close', () => {
      // Closed before the response finished: the client went away, so stop its generation.
      const gone = !res.writableFinished;
      if (gone) abort.abort(new ApiError(499, 'the client closed the connection', 'invalid_request_error'));
      inFlight.delete(abort);
      if (shuttingDown && inFlight.size === 0) setImmediate(() => server.closeAllConnections());
      options.log?.(`${req.method} ${req.url} ${res.statusCode} ${Math.round(performance.now() - t0)}ms${gone ? ' (client closed)' : ''}${failure}`);
    });
    handle(req, res, abort.signal).catch((err: unknown) => {
      // A 413 leaves the rest of the body unread: close the connection rather than drain it.
      if (err instanceof ApiError && err.status === 413) res.shouldKeepAlive = false;
      if (!(err instanceof ApiError)) failure = `: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      sendError(res, err);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('startServer: the server has no TCP address');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${urlHost}:${address.port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    baseURL: `${url}/v1`,
    host,
    port: address.port,
    server,
    openConnections: () => sockets.size,
    get closing() {
      return shuttingDown;
    },
    close() {
      closed ??= (async () => {
        shuttingDown = true;
        const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
        for (const abort of inFlight) abort.abort(shutdownError());
        if (inFlight.size === 0) server.closeAllConnections();
        else server.closeIdleConnections();
        await stopped;
        // The server's callback can run before our sockets' own 'close' listeners.
        await Promise.all([...sockets].map((s) => new Promise((resolve) => s.once('close', resolve))));
      })();
      return closed;
    },
  };
}
