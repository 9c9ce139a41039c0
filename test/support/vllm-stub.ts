// A loopback OpenAI-compatible server shaped like vLLM's /v1/completions, serving a fixed
// "model": given the prompt's token ids it continues the recorded sequence they start (400 when
// none does, as a model fed a prompt it was not trained on would go astray). What it honours,
// as vLLM does: token-id prompts, `stop` strings checked on the detokenized text,
// `include_stop_str_in_output` (the stop string, and the EOS text, kept or cut),
// `skip_special_tokens` (added tags dropped from the text when true, vLLM's default),
// `max_tokens`, `stop_reason` (the stop string, null for EOS or length), `return_token_ids`
// (the generated ids per choice), `usage`, and `/v1/models` with `max_model_len`. Streamed
// (`stream: true`) as vLLM streams: a chunk per token with that token's id and the text it
// completes (half a character waits for the rest; without `include_stop_str_in_output`, text
// that could start a stop string waits too), the end on the last chunk, then the usage chunk
// when `stream_options.include_usage` asks.
import type { HFTokenizer } from '../../src/engine/tokenizer.js';
import { startStubServer } from './openai-stub-server.js';

export interface VllmStubOptions {
  /** The served model's tokenizer (the checkpoint's). */
  tokenizer: HFTokenizer;
  /** What the model writes: whole sequences of ids (prompt, completion, EOS). */
  sequences: readonly (readonly number[])[];
  modelName?: string;
  maxModelLen?: number;
  /** Answer `return_token_ids` (recent vLLM; default true); false plays an older server that returns text only. */
  tokenIds?: boolean;
}

export interface VllmStub {
  url: string;
  /** The completion request bodies, in order. */
  readonly requests: Record<string, any>[];
  close(): Promise<void>;
}

const badRequest = (message: string) => ({
  status: 400,
  json: { error: { message, type: 'BadRequestError', param: null, code: 400 } },
});

export async function startVllmStub(o: VllmStubOptions): Promise<VllmStub> {
  const tok = o.tokenizer;
  const eos = new Set(tok.eosIds);
  const model = o.modelName ?? 'threadweaver-qwen3-8b';

  const complete = (body: Record<string, any>) => {
    const prompt: number[] = typeof body.prompt === 'string' ? tok.encode(body.prompt) : body.prompt;
    const seq = o.sequences.find((s) => s.length > prompt.length && prompt.every((id, i) => s[i] === id));
    if (!seq) return badRequest(`the prompt (${prompt.length} ids) continues no sequence of this model`);
    const skip = body.skip_special_tokens ?? true;
    const keepStop = body.include_stop_str_in_output ?? false;
    const stops: string[] = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []);
    const maxTokens: number = body.max_tokens ?? 16;
    if (prompt.length + maxTokens > (o.maxModelLen ?? 40960)) {
      return badRequest(`This model's maximum context length is ${o.maxModelLen ?? 40960} tokens`);
    }
    const ids: number[] = [];
    let text = '';
    let finish = 'length';
    let stopReason: string | null = null;
    // The streamed pieces: how much of the text may go out once each id is sampled.
    const steps: { id: number; upTo: number }[] = [];
    const holdBack = keepStop ? 0 : Math.max(0, ...stops.map((x) => x.length - 1));
    while (ids.length < maxTokens && prompt.length + ids.length < seq.length) {
      const id = seq[prompt.length + ids.length]!;
      ids.push(id);
      const before = text.length;
      text = tok.inner.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
      const settled = text.endsWith('\uFFFD') ? before : text.length;
      steps.push({ id, upTo: Math.max(steps.at(-1)?.upTo ?? 0, settled - holdBack) });
      if (eos.has(id)) {
        // vLLM keeps the EOS text only when asked to keep stop strings.
        if (!keepStop) text = text.slice(0, before);
        finish = 'stop';
        break;
      }
      const hit = stops
        .map((s) => ({ s, at: text.indexOf(s, Math.max(0, before - s.length)) }))
        .filter((h) => h.at >= 0)
        .sort((a, b) => a.at - b.at)[0];
      if (hit) {
        text = text.slice(0, keepStop ? hit.at + hit.s.length : hit.at);
        finish = 'stop';
        stopReason = hit.s;
        break;
      }
    }
    const withIds = body.return_token_ids && o.tokenIds !== false;
    const usage = {
      prompt_tokens: prompt.length,
      completion_tokens: ids.length,
      total_tokens: prompt.length + ids.length,
    };
    if (body.stream) {
      const head = { id: 'cmpl-replay', object: 'text_completion', created: 0, model };
      const events: object[] = steps.map((step, i) => {
        const last = i === steps.length - 1;
        const from = i === 0 ? 0 : Math.min(steps[i - 1]!.upTo, text.length);
        const to = last ? text.length : Math.min(step.upTo, text.length);
        return {
          ...head,
          choices: [
            {
              index: 0,
              text: text.slice(from, to),
              logprobs: null,
              finish_reason: last ? finish : null,
              stop_reason: last ? stopReason : null,
              ...(withIds ? { token_ids: [step.id] } : {}),
            },
          ],
        };
      });
      if (body.stream_options?.include_usage) events.push({ ...head, choices: [], usage });
      return { events };
    }
    return {
      status: 200,
      json: {
        id: 'cmpl-replay',
        object: 'text_completion',
        created: 0,
        model,
        choices: [
          {
            index: 0,
            text,
            logprobs: null,
            finish_reason: finish,
            stop_reason: stopReason,
            ...(withIds ? { token_ids: ids } : {}),
          },
        ],
        usage,
      },
    };
  };

  const server = await startStubServer((req) => complete(req.body), {
    models: [{ id: model, object: 'model', owned_by: 'vllm', max_model_len: o.maxModelLen ?? 40960 }],
  });
  return {
    url: server.url,
    get requests() {
      return server.requests.filter((r) => r.path === '/v1/completions').map((r) => r.body);
    },
    close: server.close,
  };
}
