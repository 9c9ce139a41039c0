import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRng } from '../../src/internal/random.js';

/**
 * A loopback HTTP proxy in front of a server that injects faults into the requests it matches
 * (by default POST .../completions; health probes pass untouched unless `down`):
 * - `error`: answer 500 with a JSON error body;
 * - `drop`: destroy the connection without an answer;
 * - `delay`: hold the request `delayMs` (past the client's timeout), then forward it if the
 *   client is still there;
 * - `rate-limit`: answer 429 with `Retry-After: retryAfterSeconds`;
 * - `cut`: forward, then drop the connection mid-answer, once `cutAfterEvents` SSE events of a
 *   streamed answer (or half of a whole one) went through: a stream that breaks after its first tokens;
 * - `pass`: forward as is.
 * The fault of the k-th matched request is `schedule[k]` while the schedule lasts, then drawn
 * from `probabilities` with a seeded generator (so runs are repeatable), else `pass`.
 */
export type Fault = 'pass' | 'error' | 'drop' | 'delay' | 'rate-limit' | 'cut';

export interface FaultProxyOptions {
  /** Upstream origin, e.g. `http://127.0.0.1:8000` (a path is ignored). */
  target: string;
  schedule?: readonly Fault[];
  probabilities?: Partial<Record<Exclude<Fault, 'pass'>, number>>;
  seed?: number;
  delayMs?: number;
  retryAfterSeconds?: number;
  /** `cut`: SSE events let through before the connection is dropped (default 5). */
  cutAfterEvents?: number;
  /** Which requests faults apply to. */
  match?: (method: string, path: string) => boolean;
}

export interface FaultProxyCounts {
  /** Every request received, matched or not. */
  requests: number;
  /** Requests that faults applied to. */
  matched: number;
  /** Requests sent upstream. */
  forwarded: number;
  /** Requests refused while `down`. */
  refused: number;
  byFault: Record<Fault, number>;
}

export interface FaultProxy {
  url: string;
  counts: FaultProxyCounts;
  /** While down, every connection (probes too) is dropped: a dead server that can come back. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

const defaultMatch = (method: string, path: string) => method === 'POST' && path.endsWith('/completions');

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const match = options.match ?? defaultMatch;
  const random = createRng(options.seed ?? 1).next;
  const counts: FaultProxyCounts = {
    requests: 0,
    matched: 0,
    forwarded: 0,
    refused: 0,
    byFault: { pass: 0, error: 0, drop: 0, delay: 0, 'rate-limit': 0, cut: 0 },
  };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let down = false;

  const choose = (): Fault => {
    const scheduled = options.schedule?.[counts.matched - 1];
    if (scheduled) return scheduled;
    let x = random();
    for (const [fault, p] of Object.entries(options.probabilities ?? {}) as [Fault, number][]) {
      if (x < p) return fault;
      x -= p;
    }
    return 'pass';
  };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, cut = false) => {
    counts.forwarded++;
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!cut) return void upRes.pipe(res);
        const sse = String(upRes.headers['content-type']).startsWith('text/event-stream');
        const limit = sse ? (options.cutAfterEvents ?? 5) : Number(upRes.headers['content-length'] ?? 2) / 2;
        let seen = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (res.destroyed) return;
          if (sse) {
            // Whole events only, up to the limit: then the connection drops.
            const text = chunk.toString('utf8');
            let at = 0;
            while (seen < limit) {
              const end = text.indexOf('\n\n', at);
              if (end < 0) break;
              seen++;
              at = end + 2;
            }
            res.write(text.slice(0, seen < limit ? text.length : at));
          } else {
            res.write(chunk.subarray(0, Math.max(0, limit - seen)));
            seen += chunk.length;
          }
          if (seen >= limit) {
            upRes.destroy();
            // Let what went through reach the client before the reset.
            setTimeout(() => req.socket.destroy(), 50);
          }
        });
      },
    );
    up.on('error', () => res.destroy());
    up.end(body);
  };

  const server = createServer((req, res) => {
    counts.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (down) {
        counts.refused++;
        return req.socket.destroy();
      }
      if (!match(req.method ?? '', req.url ?? '')) return forward(req, body, res);
      counts.matched++;
      const fault = choose();
      counts.byFault[fault]++;
      switch (fault) {
        case 'pass':
          return forward(req, body, res);
        case 'cut':
          return forward(req, body, res, true);
        case 'error':
          res.writeHead(500, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { message: 'injected server error', type: 'server_error' } }));
        case 'rate-limit':
          res.writeHead(429, {
            'content-type': 'application/json',
            'retry-after': String(options.retryAfterSeconds ?? 0),
          });
          return res.end(JSON.stringify({ error: { message: 'injected rate limit', type: 'rate_limit_error' } }));
        case 'drop':
          return req.socket.destroy();
        case 'delay': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!res.destroyed && !req.socket.destroyed) forward(req, body, res);
          }, options.delayMs ?? 5_000);
          timers.add(timer);
          return;
        }
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    counts,
    setDown(value) {
      down = value;
      if (value) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
