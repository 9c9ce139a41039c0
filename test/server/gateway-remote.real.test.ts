import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { startGateway, startServer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { getJson, postJson, postStream } from '../support/server-http.js';

// The gateway in front of `threadweaver serve` (both real HTTP servers on 127.0.0.1), as it
// would sit in front of vLLM or SGLang: every call of a run is a /v1/completions request.
let upstream: RunningServer;
let gw: RunningServer;
const upstreamLog: string[] = [];
const problem = 'Compute 37*24 + 18*53 - 29*11.';

beforeAll(async () => {
  upstream = await startServer({
    engine: await embeddedEngine(),
    modelName: 'tw',
    apiKey: 'up-key',
    log: (l) => upstreamLog.push(l),
  });
  const engine = await OpenAIEngine.connect({ baseUrl: upstream.baseURL, apiKey: 'up-key', maxRetries: 0 });
  gw = await startGateway({ engine, port: 0, apiKey: 'gw-key' });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const auth = { authorization: 'Bearer gw-key' };
const ask = () => postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: problem }] }, auth);

describe('gateway --base-url threadweaver serve', () => {
  it('runs the same trajectory through the server, plain and streamed byte-identically', async () => {
    const before = upstreamLog.length;
    const plain = await ask();
    expect(plain.status).toBe(200);
    const m = plain.body.choices[0].message;
    expect(m.content).toContain('\\boxed{1523}');
    expect(plain.body.threadweaver.metrics.threads).toBe(3);
    // One request per call: sequential, three threads, sequential.
    expect(upstreamLog.slice(before).filter((l) => l.startsWith('POST /v1/completions 200'))).toHaveLength(5);

    const s = await postStream(
      `${gw.baseURL}/chat/completions`,
      { messages: [{ role: 'user', content: problem }] },
      auth,
    );
    let reasoning = '';
    let content = '';
    for (const e of s.events) {
      if (e === '[DONE]') continue;
      for (const c of e.choices) {
        reasoning += c.delta.reasoning ?? '';
        content += c.delta.content ?? '';
      }
    }
    expect(reasoning).toBe(m.reasoning);
    expect(content).toBe(m.content);
    expect(s.events.at(-1)).toBe('[DONE]');
    expect((await getJson(`${gw.url}/health`)).body.engine).toMatch(/^openai:tw@127\.0\.0\.1:/);
  });

  it('a client that disconnects ends the run: the server’s requests stop', async () => {
    const abort = new AbortController();
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'Compute 12*34 + 56*78 + 91*23 + 45*67 + 89*12 + 34*56.' }],
        stream: true,
        temperature: 2,
        seed: 3,
      }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    const before = upstreamLog.length;
    abort.abort();
    await expect.poll(async () => (await getJson(`${gw.url}/health`)).body.active, { timeout: 30_000 }).toBe(0);
    await expect.poll(async () => (await getJson(`${upstream.url}/health`)).body.active, { timeout: 30_000 }).toBe(0);
    // The request in flight upstream was closed by the gateway, not finished.
    expect(upstreamLog.slice(before).some((l) => l.includes('client closed'))).toBe(true);
  });

  it('a server that is gone is a 502 (an error event inside a stream), after the engine’s retries', async () => {
    const gone = await startServer({ engine: await embeddedEngine() });
    const engine = await OpenAIEngine.connect({ baseUrl: gone.baseURL, maxRetries: 0 });
    const lonely = await startGateway({ engine, port: 0 });
    try {
      await gone.close();
      const r = await postJson(`${lonely.baseURL}/chat/completions`, {
        messages: [{ role: 'user', content: problem }],
      });
      expect(r.status).toBe(502);
      expect(r.body.error).toMatchObject({
        type: 'server_error',
        code: 'engine_error',
        message: expect.stringMatching(/the reasoning run failed/),
      });
      const s = await postStream(`${lonely.baseURL}/chat/completions`, {
        messages: [{ role: 'user', content: problem }],
      });
      expect(s.status).toBe(200);
      expect(s.events.at(-2).error).toMatchObject({ code: 'engine_error' });
      expect(s.events.at(-1)).toBe('[DONE]');
    } finally {
      await lonely.close();
    }
  });

  it("each chat request is one sample upstream: its calls carry one key (serve's log shows it), the next request another", async () => {
    const sessions: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const before = upstreamLog.length;
      const r = await ask();
      expect(r.status).toBe(200);
      sessions.push(
        upstreamLog
          .slice(before)
          .filter((l) => l.startsWith('POST /v1/completions 200'))
          .map((l) => /session=(\S+)$/.exec(l)?.[1] ?? 'none'),
      );
    }
    for (const keys of sessions) {
      expect(keys).toHaveLength(5);
      expect(new Set(keys).size).toBe(1);
      expect(keys[0]).toMatch(/^tw-[0-9a-f]{32}$/);
    }
    expect(sessions[0]![0]).not.toBe(sessions[1]![0]);
  });
});
