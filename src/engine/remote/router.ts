import {
  contextLengthOf,
  createClient,
  firstModel,
  listServedModels,
  normalizeBaseUrl,
  OpenAIEngine,
  REMOTE_SAMPLING_CONTROLS,
  resolveTokenizer,
  retryPolicyOf,
  type OpenAIEngineOptions,
  type ServedModel,
} from './openai.js';
import {
  abortError,
  backoffDelay,
  classifyFailure,
  describe,
  isRetryable,
  RetriesExhaustedError,
  type FailureKind,
  type RetryPolicy,
} from './retry.js';
import type { ChunkSink } from './completion-stream.js';
import type { SessionEngine } from '../session.js';
import { completeAsConcurrentCalls } from '../siblings.js';
import type { CompletionRequest, CompletionResult, Engine, EngineHealth, Tokenizer } from '../types.js';
import { EngineError } from '../errors.js';

/** When a server taken out of rotation is probed again (the delay doubles from the first to the cap). */
export interface ProbePolicy {
  /** First probe of a server taken out; doubles with each failed probe and each repeat ejection. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_PROBE_POLICY: ProbePolicy = { firstDelayMs: 250, maxDelayMs: 10_000 };

/**
 * Options of a RoutedEngine: the servers' base URLs and the probe policy, with the
 * OpenAIEngineOptions every server shares.
 */
export interface RoutedEngineOptions extends Omit<OpenAIEngineOptions, 'baseUrl'> {
  baseUrls: readonly string[];
  probe?: Partial<ProbePolicy>;
}

/** Per-server counters. Every attempt ends as exactly one success or one failure. */
export interface ServerCounters {
  baseUrl: string;
  healthy: boolean;
  outstanding: number;
  attempts: number;
  successes: number;
  failures: number;
  /** Times the server was taken out of rotation. */
  ejections: number;
  probes: number;
  /** Times a probe brought it back. */
  restores: number;
}

/** Whole-router counters: `calls` = `succeeded` + `failed` + `aborted` once every call settled. */
export interface RouterCounters {
  calls: number;
  succeeded: number;
  failed: number;
  aborted: number;
  /** Requests sent: each call's first attempt plus its retries. */
  attempts: number;
  retries: number;
  /** Retries sent at once to another healthy server. */
  failovers: number;
  /** Backoff waits (after a 429, or with no healthy server). */
  waits: number;
  /** Sessions moved off a server that was taken out. */
  rebinds: number;
}

interface Server {
  index: number;
  engine: OpenAIEngine;
  counters: ServerCounters;
  /** Bindings ever made to it: spreads new problems when loads are equal. */
  assigned: number;
  /** Ejections since its last successful completion (spaces out the probes of a flapping server). */
  strikes: number;
  /** Failed attempts since its last success. */
  failStreak: number;
  probeTimer?: NodeJS.Timeout;
}

/** Which server a problem (or one call) uses; moves only when that server is taken out. */
interface Affinity {
  server?: Server;
}

const MAX_SESSIONS = 10_000;
/** Consecutive 5xx answers that take a server out. */
const EJECT_AFTER_5XX = 3;

/**
 * An Engine over several OpenAI-compatible servers of the same model.
 * - Affinity: calls through `session(key)` stay on one server while it is healthy (its prefix
 *   cache holds the problem's context); a problem's threads go to its server too.
 * - Load: a new binding goes to the healthy server with the fewest outstanding requests.
 * - Health: a connection error or timeout takes a server out at once, and so do three 5xx in
 *   a row; it is probed (`GET /v1/models`) with exponential backoff and put back when a
 *   probe answers.
 * - Failover: a call whose server was taken out is retried at once on another healthy
 *   server. Otherwise (a 5xx, a 429, or no healthy server) it waits with backoff (or for
 *   Retry-After) and retries on its server, or on the first one a probe brings back.
 *   Retries are bounded by the retry policy. A call is never sent to a second server while
 *   the first still runs, so no call succeeds twice.
 */
export class RoutedEngine implements SessionEngine {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly contextLength: number;
  readonly samplingControls = REMOTE_SAMPLING_CONTROLS;
  /** The served model's name (the same on every server). */
  readonly model: string;
  readonly counters: RouterCounters = {
    calls: 0,
    succeeded: 0,
    failed: 0,
    aborted: 0,
    attempts: 0,
    retries: 0,
    failovers: 0,
    waits: 0,
    rebinds: 0,
  };
  private readonly servers: Server[];
  private readonly sessions = new Map<string, Affinity>();
  private readonly waiters = new Set<() => void>();
  private readonly retry: RetryPolicy;
  private readonly probePolicy: ProbePolicy;
  private closed = false;

  constructor(engines: readonly OpenAIEngine[], options: { retry?: RetryPolicy; probe?: Partial<ProbePolicy> } = {}) {
    if (engines.length === 0) throw new EngineError('router: no servers', 'config');
    const first = engines[0]!;
    this.tokenizer = first.tokenizer;
    this.contextLength = Math.min(...engines.map((e) => e.contextLength));
    this.model = first.model;
    this.name = `routed:${first.model}[${engines.length}]`;
    this.retry = options.retry ?? first.retryPolicy;
    this.probePolicy = { ...DEFAULT_PROBE_POLICY, ...options.probe };
    this.servers = engines.map((engine, index) => ({
      index,
      engine,
      assigned: 0,
      strikes: 0,
      failStreak: 0,
      counters: {
        baseUrl: engine.baseUrl,
        healthy: true,
        outstanding: 0,
        attempts: 0,
        successes: 0,
        failures: 0,
        ejections: 0,
        probes: 0,
        restores: 0,
      },
    }));
  }

  /**
   * Connect to every server at once: one shared tokenizer, the model name from `--served-model`
   * or the servers' first listed id (they must agree). Servers that do not answer start out of
   * rotation and are probed; at least one must answer.
   */
  static async connect(options: RoutedEngineOptions): Promise<RoutedEngine> {
    if (options.baseUrls.length === 0) throw new EngineError('router: no base URLs', 'config');
    const urls = options.baseUrls.map(normalizeBaseUrl);
    const [tokenizer, listed] = await Promise.all([
      resolveTokenizer(options.tokenizer),
      Promise.allSettled(urls.map((url) => listServedModels(createClient(url, options.apiKey, options.timeoutMs)))),
    ]);
    const up = listed.flatMap((r, i) => (r.status === 'fulfilled' ? [{ url: urls[i]!, served: r.value }] : []));
    if (up.length === 0) {
      const why = listed.map((r, i) => `${urls[i]}: ${r.status === 'rejected' ? describe(r.reason) : 'ok'}`).join('; ');
      throw new EngineError(`router: no server answered GET /models (${why})`, 'server');
    }
    let model = options.model;
    if (model === undefined) {
      const ids = new Set(up.map((u) => firstModel(u.url, u.served)));
      if (ids.size > 1)
        throw new EngineError(
          `router: the servers list different models (${[...ids].join(', ')}); pass the served model name (--served-model)`,
          'config',
        );
      model = [...ids][0]!;
    }
    const served: ServedModel[] = up.flatMap((u) => u.served.filter((m) => m.id === model));
    const lens = served.flatMap((m) => (m.maxModelLen !== undefined ? [m.maxModelLen] : []));
    const contextLength =
      options.contextLength ??
      contextLengthOf(
        lens.length ? [{ id: model, maxModelLen: Math.min(...lens) }] : [],
        model,
        tokenizer,
        options.maxContextLength,
      );
    const { baseUrls: _, probe, ...shared } = options;
    const engines = urls.map((baseUrl) => new OpenAIEngine({ ...shared, baseUrl, tokenizer, model, contextLength }));
    const router = new RoutedEngine(engines, { retry: retryPolicyOf(options), ...(probe ? { probe } : {}) });
    listed.forEach((r, i) => {
      if (r.status === 'rejected') router.takeOut(router.servers[i]!);
    });
    return router;
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.run({}, request);
  }

  completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: Parameters<Engine['completeSiblings']>[2],
  ): Promise<CompletionResult[]> {
    return this.siblingsOn({}, prefix, suffixes, request); // siblings share their prefix: one server
  }

  session(key: string): Engine {
    const affinity = this.affinityOf(key);
    return {
      name: this.name,
      tokenizer: this.tokenizer,
      contextLength: this.contextLength,
      samplingControls: this.samplingControls,
      complete: (request) => this.run(affinity, request),
      completeSiblings: (prefix, suffixes, request) => this.siblingsOn(affinity, prefix, suffixes, request),
    };
  }

  private siblingsOn(
    affinity: Affinity,
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: Parameters<Engine['completeSiblings']>[2],
  ): Promise<CompletionResult[]> {
    return completeAsConcurrentCalls(
      (r) => this.run(affinity, r),
      (ids) => this.tokenizer.decode(ids),
      prefix,
      suffixes,
      request,
    );
  }

  /** Healthy while a server in rotation answers its probe (each probed at most once a second). */
  async health(): Promise<EngineHealth> {
    const of = this.servers.length;
    const answers = await Promise.all(
      this.servers.map(async (s) => s.counters.healthy && (await s.engine.health()).ok),
    );
    const up = answers.filter(Boolean).length;
    if (up === 0) return { ok: false, reason: `none of the ${of} upstream servers can be reached` };
    return { ok: true, detail: `${up} of ${of} upstream servers answer` };
  }

  /** A snapshot of the per-server counters. */
  serverCounters(): ServerCounters[] {
    return this.servers.map((s) => ({ ...s.counters }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.servers) clearTimeout(s.probeTimer);
    for (const wake of this.waiters) wake();
  }

  private affinityOf(key: string): Affinity {
    let affinity = this.sessions.get(key);
    if (affinity)
      this.sessions.delete(key); // re-insert: most recently used last
    else affinity = {};
    this.sessions.set(key, affinity);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return affinity;
  }

  /** The affinity's server while healthy; else the healthy server with the least outstanding requests. */
  private pick(affinity: Affinity): Server | undefined {
    if (affinity.server?.counters.healthy) return affinity.server;
    let best: Server | undefined;
    for (const s of this.servers) {
      if (!s.counters.healthy) continue;
      if (
        !best ||
        s.counters.outstanding < best.counters.outstanding ||
        (s.counters.outstanding === best.counters.outstanding && s.assigned < best.assigned)
      )
        best = s;
    }
    if (!best) return undefined;
    if (affinity.server) this.counters.rebinds++;
    affinity.server = best;
    best.assigned++;
    return best;
  }

  private async run(affinity: Affinity, request: CompletionRequest): Promise<CompletionResult> {
    const startMs = Date.now();
    this.counters.calls++;
    // Streamed text reaches the caller once, whichever servers the attempts go to.
    const call = this.servers[0]!.engine.call(request);
    let attempts = 0;
    let last: unknown;
    let lastKind: FailureKind | undefined;
    try {
      // At most 1 + maxRetries rounds; a round sends one attempt, or waits when no server is healthy.
      for (let round = 0; ; round++) {
        if (request.signal?.aborted) throw abortError();
        const server = this.pick(affinity);
        if (server) {
          if (attempts > 0) this.counters.retries++;
          attempts++;
          try {
            const r = await call.run((req, sink) => this.attemptOn(server, req, sink));
            this.counters.succeeded++;
            return { ...r, startMs };
          } catch (err) {
            lastKind = classifyFailure(err);
            if (!isRetryable(lastKind)) throw err;
            last = err;
            server.failStreak++;
            // Refused, dropped or hung: out at once. A 5xx server is alive: out only when it keeps failing.
            if (
              lastKind === 'connection' ||
              lastKind === 'timeout' ||
              (lastKind === 'server' && server.failStreak >= EJECT_AFTER_5XX)
            )
              this.takeOut(server);
          }
        }
        if (round >= this.retry.maxRetries) {
          const what = `completion over ${this.servers.length} server(s)`;
          throw new RetriesExhaustedError(
            what,
            attempts,
            last ??
              new EngineError(
                `no healthy server (${this.servers.map((s) => s.counters.baseUrl).join(', ')} all out of rotation)`,
                'server',
              ),
          );
        }
        if (server && !server.counters.healthy && this.servers.some((s) => s.counters.healthy)) {
          this.counters.failovers++;
          continue;
        }
        this.counters.waits++;
        await this.waitForServer(backoffDelay(round + 1, this.retry, last), request.signal);
      }
    } catch (err) {
      if (classifyFailure(err) === 'abort') {
        this.counters.aborted++;
        return call.aborted(startMs);
      }
      this.counters.failed++;
      throw err;
    }
  }

  private async attemptOn(server: Server, request: CompletionRequest, onChunk: ChunkSink): Promise<CompletionResult> {
    const c = server.counters;
    c.attempts++;
    c.outstanding++;
    this.counters.attempts++;
    try {
      const r = await server.engine.attempt(request, onChunk);
      c.successes++;
      server.strikes = 0;
      server.failStreak = 0;
      return r;
    } catch (err) {
      c.failures++;
      throw err;
    } finally {
      c.outstanding--;
    }
  }

  /** Out of rotation until a probe answers. */
  private takeOut(server: Server): void {
    if (!server.counters.healthy) return;
    server.counters.healthy = false;
    server.counters.ejections++;
    server.strikes++;
    this.scheduleProbe(server, server.strikes - 1);
  }

  private scheduleProbe(server: Server, failedBefore: number): void {
    if (this.closed) return;
    const { firstDelayMs, maxDelayMs } = this.probePolicy;
    const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** failedBefore) * (0.5 + Math.random() / 2);
    server.probeTimer = setTimeout(() => {
      server.counters.probes++;
      server.engine.probe().then(
        () => this.restore(server),
        () => this.scheduleProbe(server, failedBefore + 1),
      );
    }, delay);
    server.probeTimer.unref();
  }

  private restore(server: Server): void {
    if (this.closed || server.counters.healthy) return;
    server.counters.healthy = true;
    server.counters.restores++;
    for (const wake of this.waiters) wake();
  }

  /** Wait up to `ms` for a server to come back (returns early when one does). */
  private waitForServer(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(abortError());
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
