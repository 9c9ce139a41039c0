import { randomUUID } from 'node:crypto';
import type { Engine } from '../../engine/types.js';
import { newAffinityKey } from '../../engine/session.js';
import type { DecomposePolicy } from '../../decompose/run.js';
import type { Dialect } from '../../format/dialect.js';
import { resolveDialect } from '../../format/dialects.js';
import { withStyle, type PromptFormat, type PromptStyle } from '../../orchestrator/prompt.js';
import { solveStream } from '../../solve/stream.js';
import { solve } from '../../solve/solve.js';
import type { ClientSystemPolicy } from '../../solve/preset.js';
import type { SolveOptions, SolveResult } from '../../solve/types.js';
import { parseJsonBody } from '../http/body.js';
import type { Handler, RequestContext, ServerContext } from '../serve/context.js';
import { ApiError } from '../http/errors.js';
import { waitInStream } from '../http/queue.js';
import { jsonResponse, sseResponse, type HttpResponse } from '../http/response.js';
import { startServer, type RouteTable, type RunningServer, type ServerOptions } from '../serve/server.js';
import { webFile } from '../http/static.js';
import { healthResponse } from '../serve/health.js';
import { modelNotFound } from '../serve/models.js';
import { admitText } from '../serve/admission.js';
import { messagesText, toChatMessage } from '../serve/chat.js';
import { engineFailure } from './failure.js';
import { chatMessage, finishReason, reasoningEnd, runReport, usage, type ReasoningOutput } from './reply.js';
import { gatewayBodySchema, gatewayModels, promptSubject, solveRequest, type SolveRequest } from './request.js';
import { streamRun } from './stream.js';

/**
 * Options of startGateway: the engine, model id, prompt and trajectory format, request defaults
 * and decompose policy, over the model server's options.
 */
export interface GatewayOptions extends Omit<ServerOptions, 'routes' | 'modelName'> {
  /** The engine every run decodes on (embedded, a server, or several routed). */
  engine: Engine;
  /** The base model id (default `threadweaver`); `-parallel` and `-sequential` ids choose the mode. */
  modelName?: string | undefined;
  /** How problems are put to the model (see buildPrompt); 'instructed' for models never trained on the format. */
  promptStyle?: PromptStyle | undefined;
  /** The rest of the prompt format (a preset's); `promptStyle` wins over its style. */
  prompt?: Partial<PromptFormat> | undefined;
  /** Sampling and response budget of requests that do not set them (a preset's; default greedy, the context length). */
  defaults?: { temperature?: number; topP?: number; maxTokens?: number } | undefined;
  /** The trajectory format the model writes (a name, `NAME:key=value`, or a Dialect; default threadweaver). */
  format?: string | Dialect | undefined;
  /** Serve `<model>-decompose`: prompt-level forks with this schema extractor (see solve's `decompose`). */
  decompose?: DecomposePolicy | undefined;
  /** Which field(s) carry the reasoning (default both `reasoning` and `reasoning_content`), with or without its tags. */
  reasoning?: ReasoningOutput | undefined;
  /**
   * What becomes of a client's system messages (default `keep`; a preset's is what its checkpoint
   * needs, see presetClientSystem): passed on, left out, or replaced by a text.
   */
  clientSystem?: ClientSystemPolicy | undefined;
}

/** The gateway's base model id when `modelName` is not given. */
export const DEFAULT_GATEWAY_MODEL = 'threadweaver';

/**
 * Fork/join reasoning behind OpenAI's chat API: `POST /v1/chat/completions` runs solve() on the
 * last user message, `GET /v1/models` lists the modes, `GET /` is the live web view. Built on
 * startServer, so the API key, body limits, fair queue (one slot per run), request log and
 * graceful close are the model server's.
 */
export function startGateway(options: GatewayOptions): Promise<RunningServer> {
  const {
    promptStyle,
    prompt: format,
    defaults = {},
    format: trajectoryFormat,
    decompose,
    reasoning = {},
    clientSystem = { client: 'keep' },
    ...rest
  } = options;
  const modelName = options.modelName ?? DEFAULT_GATEWAY_MODEL;
  const prompt = withStyle(format, promptStyle);
  const dialect = resolveDialect(trajectoryFormat);
  return startServer({
    ...rest,
    modelName,
    routes: gatewayRoutes({
      keyed: Boolean(options.apiKey),
      prompt,
      defaults,
      dialect,
      decompose,
      reasoning,
      clientSystem,
    }),
  });
}

/** What every request of one gateway shares. */
interface GatewaySettings {
  keyed: boolean;
  prompt: Partial<PromptFormat>;
  defaults: NonNullable<GatewayOptions['defaults']>;
  dialect: Dialect;
  decompose: DecomposePolicy | undefined;
  reasoning: ReasoningOutput;
  clientSystem: ClientSystemPolicy;
}

function gatewayRoutes(settings: GatewaySettings): RouteTable {
  const { keyed, prompt, defaults, dialect, decompose } = settings;
  const modelObjects = (server: Parameters<Handler>[0]) =>
    gatewayModels(server.modelName, decompose).map((m) => ({
      id: m.id,
      object: 'model',
      created: server.startedAt,
      owned_by: 'threadweaver',
      max_model_len: server.engine.contextLength,
      threadweaver: {
        mode: m.mode ?? 'parallel (or threadweaver.mode)',
        engine: server.engine.name,
        ...(m.decompose ? { decompose: m.decompose } : {}),
      },
    }));

  const chat: Handler = async (server, rc) => {
    // The signal stops the read too: a client trickling its body is cut off at shutdown (503).
    const body = await parseJsonBody(rc.req, server.maxBodyBytes, gatewayBodySchema, rc.signal);
    // A body that cannot fit is refused before it is tokenized whole (and without stalling other streams).
    const text = messagesText(body.messages.map(toChatMessage));
    const subject = promptSubject(body.messages.length);
    await admitText(server.engine.tokenizer, text, server.engine.contextLength, 'messages', subject);
    const req = solveRequest(body, server.engine, {
      modelName: server.modelName,
      maxTokensLimit: server.maxTokensLimit,
      prompt,
      dialect: dialect.name,
      decompose,
      clientSystem: settings.clientSystem,
      thinkClose: dialect.think ? dialect.think.close : null,
    });
    return answer(server, rc, req, solveOptions(server.engine, req, rc.signal, prompt, defaults, dialect), settings);
  };

  return {
    '/': { methods: { GET: webPage('live.html') }, guarded: false },
    '/assets/*': { methods: { GET: webAsset }, guarded: false },
    '/health': {
      methods: { GET: (server) => healthResponse(server, { engine: server.engine.name, apiKeyRequired: keyed }) },
      guarded: false,
    },
    '/v1/models': {
      methods: { GET: async (server) => jsonResponse(200, { object: 'list', data: modelObjects(server) }) },
      guarded: true,
    },
    '/v1/models/*': {
      methods: {
        GET: async (server, { param }) => {
          const models = modelObjects(server);
          const model = models.find((m) => m.id === param);
          if (!model)
            throw modelNotFound(
              param ?? '',
              models.map((m) => m.id),
            );
          return jsonResponse(200, model);
        },
      },
      guarded: true,
    },
    '/v1/chat/completions': { methods: { POST: chat }, guarded: true },
    '/v1/*': { methods: {}, guarded: true },
  };
}

function solveOptions(
  engine: Engine,
  req: SolveRequest,
  signal: AbortSignal,
  prompt: Partial<PromptFormat>,
  defaults: NonNullable<GatewayOptions['defaults']>,
  dialect: Dialect,
): SolveOptions {
  return {
    engine,
    mode: req.mode,
    signal,
    prompt,
    format: dialect,
    decompose: req.decompose,
    system: req.system,
    history: req.history,
    // The request's sampling wins over the gateway's defaults.
    maxTokens: req.maxTokens ?? defaults.maxTokens,
    temperature: req.temperature ?? defaults.temperature,
    topP: req.topP ?? defaults.topP,
    seed: req.seed,
    // Each request is one problem: its upstream calls carry one key, so a router keeps them together.
    affinityKey: newAffinityKey(),
    controls: req.controls,
  };
}

/**
 * Run the request in a slot of the fair queue: one JSON response, or an SSE stream of chunks
 * (streamRun) whose head goes out at once (with SSE comments while it waits for its slot).
 */
async function answer(
  server: ServerContext,
  rc: RequestContext,
  req: SolveRequest,
  options: SolveOptions,
  settings: GatewaySettings,
): Promise<HttpResponse> {
  const { engine } = server;
  const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
  const created = Math.floor(Date.now() / 1000);
  const head = (object: string) => ({ id, object, created, model: req.model, system_fingerprint: null });
  // A run that stopped because the client left (or the server is closing) answers with the reason.
  const finished = (r: SolveResult | undefined): SolveResult => {
    if (!r || r.finishReason === 'abort')
      throw rc.signal.reason ?? new ApiError(500, 'the run was aborted', 'server_error');
    return r;
  };
  if (!req.stream) {
    const release = await server.queue.acquire(rc.client, rc.signal);
    try {
      const r = finished(await solve(req.problem, options).catch((err: unknown) => Promise.reject(engineFailure(err))));
      const message = chatMessage(r, settings.reasoning);
      return jsonResponse(200, {
        ...head('chat.completion'),
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(r.finishReason) }],
        usage: usage(r.trajectory, engine.tokenizer, reasoningEnd(r.text, r.format?.think)),
        threadweaver: runReport(r),
      });
    } finally {
      release();
    }
  }
  const think = resolveDialect(options.format).think;
  // A full queue is still a 503; a queued stream gets its head at once and comments while it waits.
  const ticket = server.queue.enqueue(rc.client, rc.signal);
  return sseResponse(
    (async function* () {
      const release = yield* waitInStream(ticket);
      try {
        const chunks = streamRun(solveStream(req.problem, options), {
          head: head('chat.completion.chunk'),
          events: req.events,
          includeUsage: req.includeUsage,
          tokenizer: engine.tokenizer,
          think,
          reasoning: settings.reasoning,
        });
        let r: SolveResult | undefined;
        try {
          r = yield* chunks;
        } catch (err) {
          throw engineFailure(err);
        }
        finished(r);
      } finally {
        release();
      }
    })(),
  );
}

/** A route's handler that answers with one page of the web folder. */
const webPage =
  (name: string): Handler =>
  () =>
    webFile(name);

/** `/assets/*`: the pages' scripts and styles. */
const webAsset: Handler = (_server, { param }) => webFile(param ?? '');
