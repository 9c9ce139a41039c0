import { randomUUID } from 'node:crypto';
import type { ServerContext, RequestContext } from './context.js';
import { runGeneration, type Generation, type GenerationPlan } from './generate.js';
import { pushIterable } from '../../internal/push-iterable.js';
import { waitInStream } from '../http/queue.js';
import { jsonResponse, sseResponse, type HttpResponse } from '../http/response.js';
import { usageBody, type ResponseShape } from './shapes.js';
import { SpecialTokenText, specialTokenTexts, type SpecialTokenOptions } from './special-text.js';
import { StopHoldback } from './stop-text.js';

export interface ServeOptions {
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with `usage` and no choices. */
  includeUsage: boolean;
  /** Add `token_ids` to each choice (vLLM's `return_token_ids`; on unless the request says false). */
  withIds: boolean;
  /** How the text spells special tokens (vLLM's defaults: left out). */
  specialTokens: SpecialTokenOptions;
}

/** The response options both endpoints' bodies share. */
export function serveOptions(body: {
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | null | undefined } | null | undefined;
  return_token_ids?: boolean | null | undefined;
  skip_special_tokens?: boolean | null | undefined;
  spaces_between_special_tokens?: boolean | null | undefined;
}): ServeOptions {
  return {
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    withIds: body.return_token_ids !== false,
    specialTokens: { skip: body.skip_special_tokens ?? true, spaces: body.spaces_between_special_tokens ?? true },
  };
}

/**
 * Wait for a slot in the fair queue, run the plan, and answer in `shape`: one JSON response, or
 * an SSE stream whose text deltas never contain a stop string (its head goes out at once, and
 * SSE comments while it waits for its slot; a full queue is still a 503). An aborted generation throws the signal's reason (a
 * disconnect is then answered with nothing, a shutdown with a 503).
 */
export async function serveGeneration(
  server: ServerContext,
  rc: RequestContext,
  shape: ResponseShape,
  plan: GenerationPlan,
  options: ServeOptions,
): Promise<HttpResponse> {
  const id = shape.idPrefix + randomUUID().replace(/-/g, '');
  const created = Math.floor(Date.now() / 1000);
  const head = (object: string) => ({ id, object, created, model: server.modelName, system_fingerprint: null });
  const specials = specialTokenTexts(server.engine.tokenizer);
  if (!options.stream) {
    const release = await server.queue.acquire(rc.client, rc.signal);
    try {
      const gen = await runGeneration(server.engine, plan, rc.signal);
      if (gen.aborted) throw rc.signal.reason;
      return jsonResponse(200, {
        ...head(shape.object),
        choices: gen.choices.map((c) =>
          shape.choice(
            { ...c, text: SpecialTokenText.rewrite(c.text, specials, options.specialTokens) },
            options.withIds,
          ),
        ),
        usage: usageBody(gen),
      });
    } finally {
      release();
    }
  }
  const chunk = (choices: object[]) => ({ ...head(shape.chunkObject), choices });
  // A full queue is still a 503; a queued stream gets its head at once and comments while it waits.
  const ticket = server.queue.enqueue(rc.client, rc.signal);
  return sseResponse(
    (async function* () {
      const release = yield* waitInStream(ticket);
      try {
        if (shape.opening) for (let i = 0; i < plan.n; i++) yield chunk([shape.opening(i)]);
        // Per choice: stop strings are held back in the engine's text, then special tokens rewritten.
        const holds = Array.from({ length: plan.n }, () => new StopHoldback(plan.stop));
        const texts = Array.from({ length: plan.n }, () => new SpecialTokenText(specials, options.specialTokens));
        // Ids sampled since each choice's last chunk, and how many went out (vLLM's per-chunk token_ids).
        const unsent = Array.from({ length: plan.n }, (): number[] => []);
        const sent = new Array<number>(plan.n).fill(0);
        let gen: Generation | undefined;
        yield* pushIterable<object>(async (push) => {
          gen = await runGeneration(server.engine, plan, rc.signal, (i, delta, ids) => {
            if (ids) unsent[i]!.push(...ids);
            const text = texts[i]!.push(holds[i]!.push(delta));
            if (!text) return;
            const out = options.withIds ? unsent[i]!.splice(0) : undefined;
            sent[i]! += out?.length ?? 0;
            push(chunk([shape.delta(i, text, out)]));
          });
        });
        if (!gen || gen.aborted) throw rc.signal.reason;
        for (const c of gen.choices) {
          const text = texts[c.index]!;
          const rest = text.push(holds[c.index]!.finish(c.text)) + text.end();
          yield chunk([shape.last(c, rest, options.withIds ? c.tokenIds.slice(sent[c.index]) : undefined)]);
        }
        if (options.includeUsage) yield { ...head(shape.chunkObject), choices: [], usage: usageBody(gen) };
      } finally {
        release();
      }
    })(),
  );
}
