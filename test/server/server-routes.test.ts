import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, startServer, type RunningServer } from '../../src/server/index.js';
import { getJson, postJson, shutdownReply, trickle, until } from '../support/server-http.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';

// The route tables of the model server and the gateway, on 127.0.0.1 over a scripted engine:
// which routes the API key guards, and what a shutdown does to a client still sending its body.

const KEY = 'route-key';
const model = rules(
  [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
  [/<Thread>\n2:$/, ' b = 2.\n</Thread>'],
  [/<\/Thread>\n$/, `</Parallel>\nSo 3.\n</think>\n\\boxed{3}${EOS}`],
  [/assistant\n$/, '<think>\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>'],
  [/Q$/, `ok${EOS}`],
);

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function started(s: Promise<RunningServer>): Promise<RunningServer> {
  const server = await s;
  servers.push(server);
  return server;
}

const chat = { messages: [{ role: 'user', content: 'Q' }], max_tokens: 5 };
/** Every request each kind of server answers behind the key, and the open ones. */
const kinds = {
  server: {
    start: () => startServer({ engine: new ScriptedEngine(model), apiKey: KEY }),
    guarded: [
      ['GET', '/v1/models'],
      ['GET', '/v1/models/scripted'],
      ['POST', '/v1/completions', { prompt: 'Q', max_tokens: 5 }],
      ['POST', '/v1/chat/completions', chat],
      ['GET', '/v1/no-such-route'],
    ],
    open: [['GET', '/health']],
  },
  gateway: {
    start: () => startGateway({ engine: new ScriptedEngine(model), apiKey: KEY }),
    guarded: [
      ['GET', '/v1/models'],
      ['GET', '/v1/models/threadweaver-parallel'],
      ['POST', '/v1/chat/completions', chat],
      ['POST', '/v1/chat/completions', { ...chat, stream: true }],
      ['GET', '/v1/no-such-route'],
    ],
    open: [
      ['GET', '/health'],
      ['GET', '/'],
      ['GET', '/assets/live.js'],
    ],
  },
} as const;

describe.each(Object.keys(kinds) as (keyof typeof kinds)[])('the API key on the %s', (kind) => {
  const k = kinds[kind];
  const send = (
    url: string,
    [method, path, body]: readonly [string, string, object?],
    headers: Record<string, string> = {},
  ) => (method === 'GET' ? getJson(url + path, headers) : postJson(url + path, body, headers));

  it('every guarded route refuses a missing or wrong key with 401 before anything else', async () => {
    const srv = await started(k.start());
    for (const request of k.guarded) {
      const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }];
      for (const headers of refused) {
        const reply = await send(srv.url, request, headers);
        expect(reply.status, `${request[0]} ${request[1]} ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.body.error.code).toBe('invalid_api_key');
      }
    }
  });

  it('with the key each guarded route answers (an unknown one with 404); open routes need no key', async () => {
    const srv = await started(k.start());
    for (const [method, path, body] of k.guarded) {
      const res = await fetch(srv.url + path, {
        method,
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      await res.text();
      expect(res.status, `${method} ${path}`).toBe(path === '/v1/no-such-route' ? 404 : 200);
    }
    for (const request of k.open) {
      const res = await fetch(srv.url + request[1]);
      expect(res.status, request[1]).toBe(200);
      await res.arrayBuffer();
    }
  });
});

describe('the gateway at shutdown', () => {
  it('a client still trickling its body is answered 503 once the grace period ends', async () => {
    const gw = await started(startGateway({ engine: new ScriptedEngine(model), shutdownGraceMs: 300 }));
    const body = JSON.stringify({ ...chat, pad: 'x'.repeat(500) });
    const trickler = await trickle(gw.url, '/v1/chat/completions', body);
    await until('the trickled request to be in flight', () => trickler.sent() > 5);
    try {
      await gw.close();
      await trickler.conn.closed;
    } finally {
      trickler.stop();
    }
    const reply = shutdownReply(trickler);
    expect(reply.sent).toBeLessThan(body.length);
    expect(reply).toMatchObject({ status: 503, code: 'shutting_down' });
  });
});

describe('streamed responses', () => {
  /** A long stream over a slow scripted model, on a server with one generation slot. */
  async function longStream(options: { maxQueued?: number } = {}) {
    const engine = new ScriptedEngine(() => 'x'.repeat(10_000), { tokenDelayMs: 5 });
    const srv = await started(startServer({ engine, maxConcurrent: 1, ...options }));
    const ac = new AbortController();
    const res = await fetch(`${srv.baseURL}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Q', max_tokens: 5000, stream: true }),
      signal: ac.signal,
    });
    return { srv, ac, res };
  }

  it('a client that leaves mid-stream frees its slot and stops the engine', async () => {
    const { srv, ac, res } = await longStream();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    await reader.read();
    expect((await getJson(`${srv.url}/health`)).body.active).toBe(1);
    ac.abort();
    await until('the slot to be free', async () => (await getJson(`${srv.url}/health`)).body.active === 0);
    // The next request gets the slot and is answered in full.
    const next = await postJson(`${srv.baseURL}/completions`, { prompt: 'Q', max_tokens: 3 });
    expect(next.status).toBe(200);
    expect(next.body.choices[0].text).toBe('xxx');
  });

  it('a full queue is still refused with a 503 status, not inside a started stream', async () => {
    const { srv, ac, res: first } = await longStream({ maxQueued: 0 });
    expect(first.status).toBe(200);
    const refused = await postJson(`${srv.baseURL}/completions`, { prompt: 'Q', max_tokens: 3, stream: true });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('overloaded');
    ac.abort();
  });
});
