/**
 * A fleet on this machine, as docs/scale-out.md sets one up: several `threadweaver serve`
 * processes on 127.0.0.1 (standing in for vLLM) behind HAProxy (Debian's package), hashing on
 * the sample's `X-Session-ID` or spreading round robin. Used by the scale-out test and the
 * affinity benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import path from 'node:path';

/** The haproxy binary: $HAPROXY_PATH, else Debian's. */
export function findHaproxy(): string | undefined {
  return process.env.HAPROXY_PATH ?? ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
}

/** A port nothing listens on now (the kernel's choice; free again once this returns). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** One line of a server's request log. */
export interface LoggedRequest {
  /** When the response ended (the log line's time). */
  ms: number;
  method: string;
  path: string;
  status: string;
  /** The request's X-Session-ID, when it had one. */
  session?: string;
}

/** The request lines of `threadweaver serve`'s log (`<ISO time> POST /v1/completions 200 12ms session=KEY`). */
export function requestLog(lines: readonly string[]): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of lines) {
    const m = /^(\S+) ([A-Z]+) (\S+) (.+?) \d+ms(?: session=(\S+))?(?::|$)/.exec(line);
    if (!m) continue;
    out.push({
      ms: Date.parse(m[1]!),
      method: m[2]!,
      path: m[3]!,
      status: m[4]!.trim(),
      ...(m[5] ? { session: m[5] } : {}),
    });
  }
  return out;
}

export interface ServeProcess {
  name: string;
  port: number;
  child: ChildProcess;
  /** Lines of its stderr so far: the request log. */
  log: string[];
  /** SIGKILL (a crash) or SIGTERM (a shutdown); resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `threadweaver serve` on a free port of 127.0.0.1; resolves once it listens. */
export function startServe(cli: string, name: string, args: readonly string[] = []): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      log.push(...lines);
    });
    let stdout = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    };
    child.once('exit', (code, signal) =>
      reject(new Error(`serve ${name} exited (${code ?? signal}): ${log.join('\n')}`)),
    );
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /at http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(stdout);
      if (m) resolve({ name, port: Number(m[1]), child, log, stop });
    });
  });
}

export type Balance = 'affinity' | 'roundrobin';

/**
 * The HAProxy configuration of docs/scale-out.md for these servers: `affinity` hashes on the
 * sample's X-Session-ID over a consistent-hash ring (a server that leaves moves only its own
 * samples); `roundrobin` spreads requests in turn. Both check /health and retry a request whose
 * server refused or dropped it on another server.
 */
export function haproxyConfig(o: {
  port: number;
  servers: ReadonlyArray<{ name: string; port: number }>;
  balance: Balance;
}): string {
  const balance =
    o.balance === 'affinity' ? ['  balance hdr(X-Session-ID)', '  hash-type consistent'] : ['  balance roundrobin'];
  return [
    'global',
    '  maxconn 1024',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout queue 1m',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    'frontend fleet',
    `  bind 127.0.0.1:${o.port}`,
    '  default_backend threadweaver',
    'backend threadweaver',
    ...balance,
    '  option httpchk GET /health',
    '  http-check expect status 200',
    '  timeout check 5s',
    '  default-server check inter 1s fall 3 rise 2',
    ...o.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port}`),
    '',
  ].join('\n');
}

export interface Haproxy {
  /** The OpenAI base URL through the proxy. */
  baseURL: string;
  stop(): Promise<void>;
}

/** HAProxy in the foreground on `config` (written into `dir`); resolves once it accepts connections. */
export async function startHaproxy(binary: string, dir: string, config: string, port: number): Promise<Haproxy> {
  const file = path.join(dir, `haproxy-${port}.cfg`);
  await writeFile(file, config);
  const child = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${stderr}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not listen on ${port} within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { baseURL: `http://127.0.0.1:${port}/v1`, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Wait until a server answers /health through the proxy. */
export async function untilHealthy(baseURL: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(baseURL.replace(/\/v1$/, '/health'));
      if (r.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${baseURL}: no healthy server within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Fleet {
  servers: ServeProcess[];
  proxy: Haproxy;
  /** Stop HAProxy, then every server still running. */
  stop(): Promise<void>;
}

/**
 * `servers` × `threadweaver serve` (each with `serveArgs`) behind HAProxy balancing by `balance`,
 * its configuration written into `dir`; resolves once a request gets through.
 */
export async function startFleet(o: {
  cli: string;
  haproxy: string;
  dir: string;
  balance: Balance;
  servers: number;
  serveArgs?: readonly string[];
}): Promise<Fleet> {
  const servers = await Promise.all(
    Array.from({ length: o.servers }, (_, i) => startServe(o.cli, `s${i + 1}`, o.serveArgs)),
  );
  const stopServers = () => Promise.all(servers.map((s) => s.stop())).then(() => undefined);
  try {
    const port = await freePort();
    const config = haproxyConfig({
      port,
      servers: servers.map((s) => ({ name: s.name, port: s.port })),
      balance: o.balance,
    });
    const proxy = await startHaproxy(o.haproxy, o.dir, config, port);
    await untilHealthy(proxy.baseURL);
    return {
      servers,
      proxy,
      stop: async () => {
        await proxy.stop();
        await stopServers();
      },
    };
  } catch (err) {
    await stopServers();
    throw err;
  }
}
