import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt, promptMessages } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { assemble, postJson, postStream } from '../support/server-http.js';

// `skip_special_tokens` and `spaces_between_special_tokens` against the real model. Sampled hot,
// the bundled model now and then emits a special token (`<|im_start|>`, `<|endoftext|>`,
// `<unk>`); the tests find such a seed, then check every variant of the text against the
// tokenizer's own id-level decoding of the returned token ids. No prefix cache: a seeded request
// then decodes the same ids every time.
let engine: TransformersEngine;
let srv: RunningServer;
beforeAll(async () => {
  engine = await embeddedEngine({ prefixCache: false });
  srv = await startServer({ engine });
});
afterAll(async () => {
  await srv?.close();
});

const problem = 'Compute 37*24 + 18*53 - 29*11.';
const kept = { skip_special_tokens: false, spaces_between_special_tokens: false };
const tok = () => engine.tokenizer.inner;
const isSpecial = (id: number) => tok().all_special_ids.includes(id);

/** What vLLM's detokenizer makes of `ids`: special tokens dropped, or kept and spaced from their neighbours. */
function expected(ids: number[], skip: boolean, spaces: boolean): string {
  if (skip || !spaces) return tok().decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
  const parts: string[] = [];
  let run: number[] = [];
  for (const id of ids) {
    if (!isSpecial(id)) {
      run.push(id);
      continue;
    }
    if (run.length) parts.push(engine.tokenizer.decode(run));
    run = [];
    parts.push(engine.tokenizer.decode([id]));
  }
  if (run.length) parts.push(engine.tokenizer.decode(run));
  return parts.join(' ');
}

const variants = [
  { name: 'default (skip, spaces)', body: {}, skip: true, spaces: true },
  { name: 'skip, no spaces', body: { spaces_between_special_tokens: false }, skip: true, spaces: false },
  { name: 'kept, spaced', body: { skip_special_tokens: false }, skip: false, spaces: true },
  { name: 'kept as is', body: kept, skip: false, spaces: false },
];

/** The first seed whose sampled choices include a special token (asked with special tokens kept). */
async function seedWithSpecials(path: string, body: object, n: number): Promise<number> {
  for (let seed = 0; seed < 60; seed++) {
    const r = await postJson(`${srv.baseURL}${path}`, { ...body, ...kept, n, temperature: 2, seed });
    if (r.body.choices.some((c: any) => c.token_ids.some(isSpecial))) return seed;
  }
  throw new Error('no seed in 0..59 samples a special token');
}

describe('special tokens in responses', () => {
  it('completions: every combination of the flags, plain and streamed, matches id-level decoding', async () => {
    const base = { prompt: buildPrompt(engine.tokenizer, problem, 'parallel'), max_tokens: 100, n: 8, temperature: 2 };
    const seed = await seedWithSpecials('/completions', base, base.n);
    const reference = (await postJson(`${srv.baseURL}/completions`, { ...base, ...kept, seed })).body.choices.map(
      (c: any) => c.token_ids,
    );
    expect(reference.flat().some(isSpecial)).toBe(true);
    for (const v of variants) {
      const plain = await postJson(`${srv.baseURL}/completions`, { ...base, ...v.body, seed });
      expect(
        plain.body.choices.map((c: any) => c.token_ids),
        v.name,
      ).toEqual(reference);
      const texts = plain.body.choices.map((c: any) => c.text);
      expect(texts, v.name).toEqual(reference.map((ids: number[]) => expected(ids, v.skip, v.spaces)));
      const streamed = await postStream(`${srv.baseURL}/completions`, { ...base, ...v.body, seed });
      expect(assemble(streamed.events.slice(0, -1), 'text').texts, v.name).toEqual(texts);
      if (v.skip) {
        for (const t of texts) for (const s of tok().all_special_tokens) expect(t).not.toContain(s);
        // Tags are not special tokens: skipping keeps them.
        expect(texts.join('')).toContain('<Outline>');
      }
    }
    // Token ids always carry the special tokens: decoding them gives the text as kept.
    expect(reference.map((ids: number[]) => engine.tokenizer.decode(ids))).toEqual(
      reference.map((ids: number[]) => expected(ids, false, false)),
    );
  });

  it('chat: content leaves special tokens out by default and keeps them on request', async () => {
    const base = { messages: promptMessages(problem, 'parallel'), max_tokens: 100, n: 8, temperature: 2 };
    const seed = await seedWithSpecials('/chat/completions', base, base.n);
    const raw = await postJson(`${srv.baseURL}/chat/completions`, { ...base, ...kept, seed });
    const ids: number[][] = raw.body.choices.map((c: any) => c.token_ids);
    expect(raw.body.choices.map((c: any) => c.message.content)).toEqual(ids.map((i) => expected(i, false, false)));
    const dflt = await postJson(`${srv.baseURL}/chat/completions`, { ...base, seed });
    expect(dflt.body.choices.map((c: any) => c.message.content)).toEqual(ids.map((i) => expected(i, true, true)));
    const streamed = await postStream(`${srv.baseURL}/chat/completions`, { ...base, seed, skip_special_tokens: false });
    expect(assemble(streamed.events.slice(0, -1), 'content').texts).toEqual(ids.map((i) => expected(i, false, true)));
  });

  it('the remote engine asks for them kept, so its text and ids still carry them', async () => {
    const prompt = engine.tokenizer.encode(buildPrompt(engine.tokenizer, problem, 'parallel'));
    const seed = await seedWithSpecials('/completions', { prompt, max_tokens: 100 }, 1);
    const served = (
      await postJson(`${srv.baseURL}/completions`, { prompt, max_tokens: 100, temperature: 2, seed, ...kept })
    ).body.choices[0];
    const remote = await OpenAIEngine.connect({ baseUrl: srv.url });
    const r = await remote.complete({ prompt, maxTokens: 100, temperature: 2, seed });
    expect(r.ids).toEqual(served.token_ids);
    expect(r.usage.source).toBe('server');
    expect(r.text).toBe(engine.tokenizer.decode(served.token_ids));
    expect(tok().all_special_tokens.some((s) => r.text.includes(s))).toBe(true);
    // Without those fields the server leaves them out, and the client can no longer trust the ids.
    const bare = await OpenAIEngine.connect({ baseUrl: srv.url, vendorParams: false });
    const b = await bare.complete({ prompt, maxTokens: 100, temperature: 2, seed });
    expect(b.text).toBe(expected(served.token_ids, true, true));
    expect(b.usage.source).toBe('tokenizer');
  });
});
