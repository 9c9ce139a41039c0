import { EOS, ScriptedEngine, type Script } from './scripted-engine.js';
import { startStubServer, type StubServer } from './openai-stub-server.js';

// A scripted "model" behind a loopback OpenAI-compatible /v1/completions (text prompts), for
// unit tests of what the remote engine sends and records. With `cache`, it reports
// `prompt_tokens_details.cached_tokens` as a prefix cache would: the longest prefix (in its
// tokens) the prompt shares with any prompt or completion it served before. It is not a model
// server's cache, only a stand-in that makes the counts predictable.

/** The rules of a model that forks once: two outlines, two threads, then the answer after the join. */
export const TWO_THREADS: [RegExp, string][] = [
  [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
  [/<Thread>\n2:$/, ' b = 22.\n</Thread>'],
  [/<\/Thread>\n$/, `</Parallel>\nSo 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`],
  [
    /assistant\n$/,
    '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>',
  ],
];

export interface ScriptedServer extends StubServer {
  engine: ScriptedEngine;
}

export async function startScriptedServer(script: Script, o: { cache?: boolean } = {}): Promise<ScriptedServer> {
  const engine = new ScriptedEngine(script);
  const tok = engine.tokenizer;
  const seen: number[][] = [];
  const server = await startStubServer(async (req) => {
    const body = req.body as { prompt: string; max_tokens: number; stop?: string[] };
    const ids = tok.encode(body.prompt);
    const cached = Math.max(0, ...seen.map((s) => commonPrefix(s, ids)));
    const r = await engine.complete({ prompt: body.prompt, maxTokens: body.max_tokens, stop: body.stop ?? [] });
    seen.push([...ids, ...r.ids]);
    return {
      json: {
        id: 'cmpl-scripted',
        object: 'text_completion',
        created: 0,
        model: 'stub-model',
        choices: [
          {
            index: 0,
            text: r.text,
            logprobs: null,
            finish_reason: r.finishReason === 'length' ? 'length' : 'stop',
            stop_reason: r.matchedStop ?? null,
          },
        ],
        usage: {
          prompt_tokens: ids.length,
          completion_tokens: r.ids.length,
          total_tokens: ids.length + r.ids.length,
          ...(o.cache ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
        },
      },
    };
  });
  return Object.assign(server, { engine });
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
