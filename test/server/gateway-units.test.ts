import { describe, expect, it } from 'vitest';
import { OrderedText, ReasoningSplitter, splitReasoning } from '../../src/server/gateway/text-stream.js';
import { startGateway } from '../../src/server/gateway/gateway.js';
import { solveStream, type SolveEvent } from '../../src/solve/stream.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { postJson, postStream } from '../support/server-http.js';

const OUTLINES =
  '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>';
const script = rules(
  [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
  [/<Thread>\n2:$/, ' b = 22.\n</Thread>'],
  [/<\/Thread>\n$/, `</Parallel>\nSo 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`],
  [/assistant\n$/, OUTLINES],
);

describe('splitReasoning and ReasoningSplitter', () => {
  const cases = [
    '<think>\nx\n</think>\nAnswer 1.',
    '  <think>a</think>b</think>c',
    '<think>never closed',
    '<think>closes late</thi',
    '<think>a <</think>b',
    '<think>a </</think>',
    'no reasoning at all',
    '<thin',
    '',
    ' \n',
    '<think></think>',
  ];
  for (const keepTags of [false, true]) {
    it.each(cases)(`pieces of %j join to the whole split (keepTags ${keepTags})`, (text) => {
      const whole = splitReasoning(text, { keepTags });
      if (keepTags) expect(whole.reasoning + whole.content).toBe(text);
      for (const size of [1, 2, 3, 7]) {
        const s = new ReasoningSplitter({ keepTags });
        let reasoning = '';
        let content = '';
        for (let i = 0; i < text.length; i += size) {
          const c = s.push(text.slice(i, i + size));
          // Once content flows, reasoning never comes back.
          if (content) expect(c.reasoning).toBe('');
          reasoning += c.reasoning;
          content += c.content;
        }
        const rest = s.finish();
        expect({ reasoning: reasoning + rest.reasoning, content: content + rest.content }).toEqual(whole);
      }
    });
  }
  it('reasoning is the text inside the think tags (vLLM), or with keepTags the span with its tags; content the text after', () => {
    expect(splitReasoning('<think>\nx\n</think>\nA')).toEqual({ reasoning: '\nx\n', content: '\nA' });
    expect(splitReasoning('  <think>x</think>A</think>')).toEqual({ reasoning: 'x', content: 'A</think>' });
    expect(splitReasoning('<think>cut off')).toEqual({ reasoning: 'cut off', content: '' });
    expect(splitReasoning('<think>\nx\n</think>\nA', { keepTags: true })).toEqual({
      reasoning: '<think>\nx\n</think>',
      content: '\nA',
    });
    expect(splitReasoning('plain')).toEqual({ reasoning: '', content: 'plain' });
    expect(splitReasoning('<Think>x</Think>y', { think: { open: '<Think>', close: '</Think>' } })).toEqual({
      reasoning: 'x',
      content: 'y',
    });
    expect(splitReasoning('<think>x</think>y', { think: null })).toEqual({
      reasoning: '',
      content: '<think>x</think>y',
    });
  });
});

describe('OrderedText', () => {
  it('previews deltas, then sends only what the whole piece adds', () => {
    const o = new OrderedText();
    expect(o.preview('ab')).toBe('ab');
    expect(o.preview('c\uFFFD')).toBe('c'); // half a character waits for the call's text
    expect(o.append('abcé')).toBe('é');
    expect(o.append('\n<Thread>\n1:')).toBe('\n<Thread>\n1:');
  });
  it('refuses a piece that does not begin with what was previewed', () => {
    const o = new OrderedText();
    o.preview('xy');
    expect(() => o.append('xz')).toThrow(/not how the call's text begins/);
  });
});

describe('solveStream', () => {
  it('yields every controller event in order, then the result; text events join to the trajectory', async () => {
    const engine = new ScriptedEngine(script);
    const events: SolveEvent[] = [];
    const gen = solveStream('Q', { engine });
    for await (const e of gen) events.push(e);
    const last = events.at(-1)!;
    expect(last.type).toBe('result');
    const result = last.type === 'result' ? last.result : undefined;
    expect(result?.answer).toBe('23');
    expect(
      events
        .filter((e) => e.type === 'text')
        .map((e) => (e.type === 'text' ? e.text : ''))
        .join(''),
    ).toBe(result?.text);
    const order = events.map((e) => e.type).filter((t) => !['delta', 'thread:delta', 'text'].includes(t));
    expect(order).toEqual([
      'phase',
      'outlines',
      'phase',
      'thread:start',
      'thread:start',
      'thread:end',
      'thread:end',
      'join',
      'phase',
      'done',
      'result',
    ]);
    const deltas = events
      .filter((e) => e.type === 'thread:delta' && e.thread === '2')
      .map((e) => (e.type === 'thread:delta' ? e.text : ''));
    expect(deltas.join('')).toBe(' b = 22.\n</Thread>');
  });

  it('leaving the loop early aborts the run and waits for the engine to stop', async () => {
    const engine = new ScriptedEngine(() => 'x'.repeat(100_000), { tokenDelayMs: 1 });
    let deltas = 0;
    for await (const e of solveStream('Q', { engine })) {
      if (e.type === 'delta' && ++deltas === 5) break;
    }
    const requests = engine.requests.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.requests.length).toBe(requests);
    expect(deltas).toBe(5);
  });

  it('throws the engine failure from the loop', async () => {
    const engine = new ScriptedEngine(script, { failOnCall: 1 });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of solveStream('Q', { engine })) seen.push(e.type);
      })(),
    ).rejects.toThrow(/scripted failure/);
    expect(seen).toContain('error');
  });
});

describe('startGateway', () => {
  it('runs every request in its format, settings included (threadweaver:threads=1 keeps one thread)', async () => {
    const gw = await startGateway({ engine: new ScriptedEngine(script), port: 0, format: 'threadweaver:threads=1' });
    try {
      const r = await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: 'Q' }] });
      expect(r.status).toBe(200);
      const report = r.body.threadweaver;
      expect(report.blocks.map((b: { threads: unknown[] }) => b.threads.length)).toEqual([1]);
      expect(report.warnings).toEqual([expect.stringMatching(/^limit: /)]);
    } finally {
      await gw.close();
    }
  });
});

describe('reasoning fields', () => {
  const THINK = `\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>\n<Thread>\n1: a = 1.\n</Thread><Thread>\n2: b = 22.\n</Thread>\n</Parallel>\nSo 23.\n`;
  const CONTENT = '\nThe answer is \\boxed{23}.';
  /** The message and the streamed deltas joined per field, from a gateway with these settings. */
  async function reply(reasoning?: Parameters<typeof startGateway>[0]['reasoning']) {
    const gw = await startGateway({ engine: new ScriptedEngine(script), port: 0, reasoning });
    try {
      const body = { messages: [{ role: 'user', content: 'Q' }] };
      const plain = await postJson(`${gw.baseURL}/chat/completions`, body);
      expect(plain.status).toBe(200);
      const s = await postStream(`${gw.baseURL}/chat/completions`, body);
      const joined: Record<string, string> = {};
      for (const e of s.events)
        if (e !== '[DONE]')
          for (const c of e.choices)
            for (const [k, v] of Object.entries(c.delta)) if (typeof v === 'string') joined[k] = (joined[k] ?? '') + v;
      return { message: plain.body.choices[0].message, deltas: joined };
    } finally {
      await gw.close();
    }
  }

  it('by default the think text without its tags, in both reasoning and reasoning_content, message and deltas', async () => {
    const { message, deltas } = await reply();
    expect(message).toEqual({
      role: 'assistant',
      content: CONTENT,
      reasoning: THINK,
      reasoning_content: THINK,
      refusal: null,
    });
    expect(deltas).toEqual({ role: 'assistant', content: CONTENT, reasoning: THINK, reasoning_content: THINK });
  });

  it('one field when asked, and the tags kept when asked', async () => {
    const a = await reply({ field: 'reasoning' });
    expect(a.message).not.toHaveProperty('reasoning_content');
    expect(a.message.reasoning).toBe(THINK);
    expect(a.deltas).toEqual({ role: 'assistant', content: CONTENT, reasoning: THINK });
    const b = await reply({ field: 'reasoning_content', keepTags: true });
    expect(b.message).not.toHaveProperty('reasoning');
    expect(b.message.reasoning_content).toBe(`<think>${THINK}</think>`);
    expect(b.deltas).toEqual({ role: 'assistant', content: CONTENT, reasoning_content: `<think>${THINK}</think>` });
  });

  it('accepts assistant turns sent back with either field', async () => {
    const gw = await startGateway({ engine: new ScriptedEngine(script), port: 0 });
    try {
      for (const field of ['reasoning', 'reasoning_content']) {
        const r = await postJson(`${gw.baseURL}/chat/completions`, {
          messages: [
            { role: 'user', content: 'Q0' },
            { role: 'assistant', content: 'The answer is 1.', [field]: 'earlier thoughts' },
            { role: 'user', content: 'Q' },
          ],
        });
        expect(r.status).toBe(200);
      }
    } finally {
      await gw.close();
    }
  });
});
