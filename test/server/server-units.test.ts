import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/internal/random.js';
import { StopMatcher } from '../../src/engine/stop.js';
import { ApiError } from '../../src/server/http/errors.js';
import { FairQueue } from '../../src/server/http/queue.js';
import { SpecialTokenText } from '../../src/server/serve/special-text.js';
import { StopHoldback, stripMatchedStop } from '../../src/server/serve/stop-text.js';

describe('stripMatchedStop', () => {
  it('drops a stop at the end, or cuts at a text stop that ended inside the last piece', () => {
    expect(stripMatchedStop('abc</Thread>', '</Thread>')).toBe('abc');
    expect(stripMatchedStop('ab<think>', 'hi')).toBe('ab<t');
    expect(stripMatchedStop('no stop', undefined)).toBe('no stop');
    // A char-built copy earlier does not hide the id-matched stop at the end.
    expect(stripMatchedStop('x</Thread>y</Thread>', '</Thread>')).toBe('x</Thread>y');
  });
});

/**
 * Simulate the engine exactly: the real StopMatcher over a tokenizer where tags are single
 * tokens (matched by id) and everything else is one char per token. The streamed pieces must
 * join to the non-streamed stripped text, and no piece may ever contain a matched stop.
 */
describe('StopHoldback', () => {
  const tags = ['<think>', '</Thread>', '<Thread>'];
  const alphabet = ['a', 'b', 'h', 'i', '<', '/', 'T', '>', '\n', ...tags];
  const singleTokenId = (s: string) => (tags.includes(s) ? tags.indexOf(s) : undefined);

  it('joined stream equals the stripped text for random generations and stops', () => {
    const rng = createRng(11).next;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
    let stopped = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const stops = Array.from({ length: 1 + Math.floor(rng() * 3) }, () =>
        rng() < 0.3
          ? pick(tags)
          : Array.from({ length: 1 + Math.floor(rng() * 3) }, () => pick(['a', 'b', 'h', 'i', '\n', '<', '>'])).join(
              '',
            ),
      );
      const matcher = new StopMatcher(stops, singleTokenId);
      const hold = new StopHoldback(stops);
      let text = '';
      let streamed = '';
      let matched: string | undefined;
      for (let step = 0; step < 40 && matched === undefined; step++) {
        const piece = pick(alphabet);
        text += piece;
        streamed += hold.push(piece);
        matched = matcher.push(singleTokenId(piece) ?? 1000, piece);
      }
      if (matched !== undefined) stopped++;
      const final = matched === undefined ? text : stripMatchedStop(text, matched);
      expect(final.startsWith(streamed), JSON.stringify({ stops, text, streamed })).toBe(true);
      expect(streamed + hold.finish(final)).toBe(final);
    }
    expect(stopped).toBeGreaterThan(1000);
  });

  it('sends text as soon as it cannot begin a stop', () => {
    const hold = new StopHoldback(['</Thread>']);
    expect(hold.push('ab')).toBe('ab');
    expect(hold.push('<')).toBe('');
    expect(hold.push('/')).toBe('');
    expect(hold.push('x')).toBe('</x');
    expect(hold.push('\uFFFD')).toBe('');
    expect(hold.push('é')).toBe('\uFFFDé');
  });
});

describe('SpecialTokenText', () => {
  const specials = ['<|im_start|>', '<|endoftext|>', '<s>', '<s>!'];
  const rewrite = (text: string, skip: boolean, spaces: boolean) =>
    SpecialTokenText.rewrite(text, specials, { skip, spaces });

  it('drops special tokens, or spaces them from their neighbours as vLLM joins sub-texts', () => {
    const text = '<|im_start|>ab<|endoftext|><|im_start|>c<s>!d<s>';
    expect(rewrite(text, true, true)).toBe('abcd');
    expect(rewrite(text, true, false)).toBe('abcd');
    expect(rewrite(text, false, true)).toBe('<|im_start|> ab <|endoftext|> <|im_start|> c <s>! d <s>');
    expect(rewrite(text, false, false)).toBe(text);
    // The tags are not special: they stay as they are.
    expect(rewrite('<Thread>\n1: x</Thread>', true, true)).toBe('<Thread>\n1: x</Thread>');
    // A partial special token at the very end is plain text.
    expect(rewrite('ab<|im_st', true, true)).toBe('ab<|im_st');
    expect(SpecialTokenText.rewrite('a<|im_start|>b', [], { skip: true, spaces: true })).toBe('a<|im_start|>b');
  });

  it('pieces join to exactly what the whole text gives, however it is cut', () => {
    const rng = createRng(5).next;
    const atoms = ['a', 'b', ' ', '<', '|', '>', 's', '!', '\n', ...specials];
    for (let trial = 0; trial < 2000; trial++) {
      const text = Array.from(
        { length: 1 + Math.floor(rng() * 30) },
        () => atoms[Math.floor(rng() * atoms.length)],
      ).join('');
      for (const [skip, spaces] of [
        [true, true],
        [false, true],
        [true, false],
      ] as const) {
        const whole = rewrite(text, skip, spaces);
        const t = new SpecialTokenText(specials, { skip, spaces });
        let joined = '';
        for (let at = 0; at < text.length;) {
          const n = 1 + Math.floor(rng() * 6);
          joined += t.push(text.slice(at, at + n));
          at += n;
        }
        expect(joined + t.end(), JSON.stringify({ text, skip, spaces })).toBe(whole);
      }
    }
  });
});

describe('FairQueue', () => {
  const tick = () => new Promise((r) => setImmediate(r));

  it('runs at most maxActive, then serves clients round-robin', async () => {
    const q = new FairQueue(1, 10);
    const order: string[] = [];
    const first = await q.acquire('a');
    const waits = [
      ['a', 1],
      ['a', 2],
      ['a', 3],
      ['b', 1],
      ['c', 1],
      ['b', 2],
    ].map(([client, n]) =>
      q.acquire(client as string).then(async (release) => {
        order.push(`${client}${n}`);
        await tick();
        release();
      }),
    );
    expect(q.stats).toEqual({ active: 1, queued: 6 });
    first();
    await Promise.all(waits);
    // a queued three before b or c came, yet b and c do not wait behind all of a's.
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    expect(q.stats).toEqual({ active: 0, queued: 0 });
  });

  it('refuses with a 503 past maxQueued, and drops waiters whose signal aborts', async () => {
    const q = new FairQueue(1, 1);
    const release = await q.acquire('a');
    const ctl = new AbortController();
    const waiting = q.acquire('b', ctl.signal);
    await expect(q.acquire('c')).rejects.toMatchObject({ status: 503, code: 'overloaded' });
    ctl.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(q.stats).toEqual({ active: 1, queued: 0 });
    release();
    release(); // a second call is a no-op
    expect(q.stats).toEqual({ active: 0, queued: 0 });
    const again = await q.acquire('c');
    expect(q.stats.active).toBe(1);
    again();
  });

  it('rejects nonsense limits', () => {
    expect(() => new FairQueue(0, 1)).toThrow(/maxActive/);
    expect(new ApiError(400, 'x', 'invalid_request_error').body()).toEqual({
      error: { message: 'x', type: 'invalid_request_error', param: null, code: null },
    });
  });
});
