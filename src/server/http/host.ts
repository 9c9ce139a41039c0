import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError } from './errors.js';
import { sendError, sendResponse, type HttpResponse } from './response.js';
import { ThreadweaverError } from '../../errors.js';

/** Where a host listens, how long its graceful close waits, and where its request log goes. */
export interface HostOptions {
  /** Interface to bind (default 127.0.0.1: local clients only). */
  host?: string | undefined;
  /** 0 picks a free port (default 0). */
  port?: number | undefined;
  /**
   * After close(): how long requests in flight may take to finish (default 5000 ms). Then they
   * are aborted and answered with 503, and connections still open shortly after are destroyed.
   */
  shutdownGraceMs?: number | undefined;
  /** Called with one line per finished request (method, path, status, time; the stack of a 500). */
  log?: ((line: string) => void) | undefined;
}

/** What a handler gets besides the request. */
export interface RequestControls {
  /** Aborted when the client goes away or the shutdown's grace period ends; its reason is the error to answer. */
  signal: AbortSignal;
  /** Send `100 Continue` to a client that waits for it before sending its body (see admitJsonBody). */
  writeContinue: () => void;
}

/** Answers one request with a response value (sendResponse writes it); a rejection is answered in OpenAI's error shape. */
export type RequestHandler = (req: IncomingMessage, controls: RequestControls) => Promise<HttpResponse>;

/** A running HTTP host: its address, its open connections, and a graceful close(). */
export interface Host {
  /** `http://host:port`. */
  url: string;
  host: string;
  port: number;
  /** The underlying node server (for inspection; do not close it directly). */
  server: Server;
  /** Sockets currently open. */
  openConnections(): number;
  /** True once close() was called. */
  readonly closing: boolean;
  /**
   * Stop accepting; let requests in flight finish within the grace period, then abort them
   * (their clients get a 503, or an error event in a stream); resolve once every connection is
   * closed. Idempotent.
   */
  close(): Promise<void>;
}

/** How long close() lets requests in flight finish before aborting them, when `shutdownGraceMs` is not given. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
/**
 * When a half-closed client is probed, in ms after its FIN: at once, soon again (the second write
 * reports the reset the first drew, a round trip later), then steadily.
 */
const PROBE_AT_MS = [0, 10, 50, 250];
const PROBE_EVERY_MS = 500;
/** After the grace period: how long aborted requests' answers get to go out before sockets are destroyed. */
const FLUSH_MS = 500;

/**
 * The request's `X-Session-ID` (the key routers keep a sample's calls together by), for the log:
 * an operator can see which server each sample's calls reached. Only printable ASCII, cut short.
 */
function sessionOf(req: IncomingMessage): string | undefined {
  const value = req.headers['x-session-id'];
  const one = Array.isArray(value) ? value[0] : value;
  return one && /^[\x21-\x7e]{1,200}$/.test(one) ? one : undefined;
}

export const shuttingDown = () =>
  new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down');

/**
 * An HTTP/1.1 server's connection lifecycle around a handler: abort signals, `Expect`, half-closed
 * clients, the request log and a bounded graceful close. Routing and bodies are the handler's.
 */
export async function startHost(handle: RequestHandler, options: HostOptions = {}): Promise<Host> {
  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  if (!(graceMs >= 0 && Number.isFinite(graceMs)))
    throw new ThreadweaverError(`startHost: shutdownGraceMs must be a non-negative number, got ${graceMs}`);
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const inFlight = new Map<ServerResponse, AbortController>();
  let closing = false;
  /** Set when the shutdown destroys what is left: those requests were not closed by their clients. */
  let forced = false;
  let onDrained: (() => void) | undefined;

  function onRequest(req: IncomingMessage, res: ServerResponse, refusal?: ApiError): void {
    const abort = new AbortController();
    inFlight.set(res, abort);
    const t0 = performance.now();
    let failure = '';
    const stopProbing = probeHalfClose(req, res);
    res.on('close', () => {
      stopProbing();
      // Closed before the response finished: the client went away (or the shutdown cut it), so stop its work.
      const cut = !res.writableFinished;
      if (cut) abort.abort(new ApiError(499, 'the client closed the connection', 'invalid_request_error'));
      inFlight.delete(res);
      if (closing) onDrained?.();
      options.log?.(requestLogLine(req, res, { cut, forced, ms: performance.now() - t0, failure }));
    });
    const fail = (err: unknown) => {
      if (!(err instanceof ApiError)) failure = `: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      // A 5xx for a failure behind it (an upstream server): the log names what the client is not told.
      else if (err.status >= 500 && err.cause instanceof Error) failure = `: ${err.cause.message}`;
      // An unread body (too large, refused, or held back by `Expect`): close rather than read it.
      if (!req.complete) res.shouldKeepAlive = false;
      sendError(res, err);
    };
    if (closing) res.shouldKeepAlive = false;
    const refused = refusal ?? (closing ? shuttingDown() : undefined);
    if (refused) fail(refused);
    else
      handle(req, { signal: abort.signal, writeContinue: () => res.writeContinue() })
        .then((response) => sendResponse(res, response))
        .catch(fail);
  }

  const server = createServer(onRequest);
  // Keep answering a client that half-closes after its request (see probeHalfClose). Node's
  // server supports this through this flag (false by default: a FIN aborts the request).
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // `Expect: 100-continue` comes here instead of 'request'; the handler sends `100 Continue`
  // (admitJsonBody) once the request passed the checks its headers allow, so a refused client
  // never sends its body.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    onRequest(
      req,
      res,
      new ApiError(
        417,
        `unsupported expectation: Expect: ${req.headers.expect}`,
        'invalid_request_error',
        null,
        'expectation_failed',
      ),
    ),
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const { url, port } = await listen(server, host, options.port ?? 0);

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    server,
    openConnections: () => sockets.size,
    get closing() {
      return closing;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Answers still to come close their connections; idle keep-alive ones close now.
        for (const res of inFlight.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
        let force: NodeJS.Timeout | undefined;
        const expire = () => {
          for (const abort of inFlight.values()) abort.abort(shuttingDown());
          force = setTimeout(() => {
            forced = true;
            for (const socket of sockets) socket.destroy();
          }, FLUSH_MS);
        };
        onDrained = () => {
          server.closeIdleConnections();
          // Nothing left to answer: connections still sending headers are dropped too.
          if (inFlight.size === 0) server.closeAllConnections();
        };
        const deadline = graceMs > 0 ? setTimeout(expire, graceMs) : undefined;
        if (!deadline) expire();
        onDrained();
        await stopped;
        // The server's callback can run before our sockets' own 'close' listeners.
        await Promise.all([...sockets].map((s) => new Promise((resolve) => s.once('close', resolve))));
        clearTimeout(deadline);
        clearTimeout(force);
      })();
      return closed;
    },
  };
}

/** The request log's line of one finished (or cut) request: method, path, status, time, session, failure. */
function requestLogLine(
  req: IncomingMessage,
  res: ServerResponse,
  o: { cut: boolean; forced: boolean; ms: number; failure: string },
): string {
  const why = o.forced ? 'closed at shutdown' : 'client closed';
  const status = !o.cut ? String(res.statusCode) : res.headersSent ? `${res.statusCode} (${why})` : why;
  const session = sessionOf(req);
  return `${req.method} ${req.url} ${status} ${Math.round(o.ms)}ms${session ? ` session=${session}` : ''}${o.failure}`;
}

/** Listen on `host:port` (0: a free port) and return the URL clients use. */
async function listen(server: Server, host: string, port: number): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new ThreadweaverError('startHost: the server has no TCP address');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${urlHost}:${address.port}`, port: address.port };
}

/**
 * A client may half-close (send its FIN) once the request is out and still read the answer, but
 * a client that went away sends the same FIN. A request that said `Connection: close` (or came
 * as HTTP/1.0) announced that nothing more follows, so its FIN is a half-close and it runs to its
 * end. Otherwise writes tell the two apart: a closed socket answers one with a reset, which the
 * next write reports, closing the response and so aborting its work. A streaming answer's own
 * writes do that; when nothing was written since the last look, the probe is a write that means
 * nothing: before the answer, an interim `100 Continue` (HTTP/1.1 clients must accept 1xx
 * responses they did not ask for, and 100 is the one every client library skips; it says the
 * request was received and not refused, which is true); in an event stream, an SSE comment.
 */
function probeHalfClose(req: IncomingMessage, res: ServerResponse): () => void {
  const socket = req.socket;
  let timer: NodeJS.Timeout | undefined;
  let written = 0;
  const stop = () => {
    socket.off('end', onEnd);
    clearTimeout(timer);
  };
  const probe = (n: number) => {
    if (res.destroyed || res.writableEnded) return;
    const quiet = socket.bytesWritten === written;
    if (quiet && !res.headersSent && res.socket) res.writeContinue();
    else if (quiet && res.headersSent && String(res.getHeader('content-type')).startsWith('text/event-stream'))
      res.write(':\n\n');
    written = socket.bytesWritten;
    const next = PROBE_AT_MS[n + 1];
    timer = setTimeout(() => probe(n + 1), next === undefined ? PROBE_EVERY_MS : next - PROBE_AT_MS[n]!);
  };
  function onEnd() {
    const saidDone =
      req.httpVersionMajor !== 1 ||
      req.httpVersionMinor < 1 ||
      /(^|,)\s*close\s*(,|$)/i.test(req.headers.connection ?? '');
    if (saidDone) return;
    written = socket.bytesWritten;
    timer = setTimeout(() => probe(0), PROBE_AT_MS[0]);
  }
  if (socket.readableEnded) onEnd();
  else socket.once('end', onEnd);
  return stop;
}
