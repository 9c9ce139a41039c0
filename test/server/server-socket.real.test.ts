import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { isJsonContentType } from '../../src/server/http/body.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { requestPath } from '../../src/server/serve/server.js';
import { embeddedEngine } from '../../src/engine/load.js';
import {
  getJson,
  type parseRawResponse,
  postJson,
  RawConnection,
  rawRequest,
  shutdownReply,
  assemble,
  sseEvents,
  trickle,
  until,
} from '../support/server-http.js';

// HTTP at the socket level against the real model on 127.0.0.1: media types, `Expect:
// 100-continue`, half-closed clients, the request log, odd paths and a shutdown that a trickling
// client cannot hold up.
let engine: TransformersEngine;
let srv: RunningServer;
const lines: string[] = [];
const posts = () => lines.filter((l) => l.startsWith('POST '));
const KEY = 'sock-key';
const auth = { authorization: `Bearer ${KEY}` };
beforeAll(async () => {
  engine = await embeddedEngine();
  srv = await startServer({ engine, apiKey: KEY, maxBodyBytes: 4000, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await srv?.close();
});

const extra: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((s) => s.close()));
});

const small = JSON.stringify({ prompt: 'Compute 2*3.', max_tokens: 4 });
/** A long generation: after a lone <|im_start|> the model repeats a digit to the limit (1.2 s here). */
const endless = JSON.stringify({ prompt: [1], max_tokens: 1000 });

/** One request on its own connection; returns the parsed response and the connection. */
async function exchange(
  text: string,
): Promise<{ reply: ReturnType<typeof parseRawResponse> & object; conn: RawConnection }> {
  const conn = await RawConnection.open(srv.url);
  conn.write(text);
  return { reply: await conn.response(), conn };
}

describe('request bodies must be JSON (415 otherwise)', () => {
  it('refuses form, text and multipart posts and a missing type, in the error shape, on both endpoints', async () => {
    for (const path of ['/v1/completions', '/v1/chat/completions']) {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/jsonp',
        undefined,
      ]) {
        const { reply } = await exchange(
          rawRequest('POST', path, { ...auth, ...(type ? { 'content-type': type } : {}) }, small),
        );
        expect(reply.status, `${path} ${type}`).toBe(415);
        const body = JSON.parse(reply.body);
        expect(body).toEqual({
          error: {
            message: `the request body must be JSON: send the header \`Content-Type: application/json\` (got ${type ? `'${type}'` : 'none'})`,
            type: 'invalid_request_error',
            param: null,
            code: 'unsupported_media_type',
          },
        });
      }
    }
  });

  it('accepts application/json with parameters and in any case', async () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;Charset="UTF-8"',
      'application/json ; charset=utf8',
    ]) {
      const { reply } = await exchange(rawRequest('POST', '/v1/completions', { ...auth, 'content-type': type }, small));
      expect(reply.status, type).toBe(200);
      expect(JSON.parse(reply.body).choices[0].token_ids).toHaveLength(4);
    }
    expect(isJsonContentType('application/json;foo=bar')).toBe(true);
    expect(isJsonContentType('application/json-seq')).toBe(false);
  });

  it('checks the key before the media type, so unauthenticated callers learn nothing', async () => {
    const { reply } = await exchange(rawRequest('POST', '/v1/completions', { 'content-type': 'text/plain' }, small));
    expect(reply.status).toBe(401);
  });
});

describe('Expect: 100-continue', () => {
  const expectContinue = (headers: Record<string, string>, length = small.length) =>
    rawRequest('POST', '/v1/completions', { ...headers, expect: '100-continue', 'content-length': String(length) });

  it('a request that will be refused gets its final answer without 100 Continue, and the connection closes', async () => {
    const cases: [Record<string, string>, number, number][] = [
      [{ 'content-type': 'application/json' }, small.length, 401],
      [{ ...auth, 'content-type': 'application/json', authorization: 'Bearer wrong' }, small.length, 401],
      [{ ...auth, 'content-type': 'application/json' }, 5000, 413],
      [{ ...auth, 'content-type': 'text/plain' }, small.length, 415],
    ];
    for (const [headers, length, status] of cases) {
      // The body is never sent: the answer cannot depend on it.
      const { reply, conn } = await exchange(expectContinue(headers, length));
      expect(reply.status).toBe(status);
      expect(reply.interim).toEqual([]);
      expect(reply.headers.connection).toBe('close');
      expect(JSON.parse(reply.body).error.code).toBe(
        { 401: 'invalid_api_key', 413: 'request_too_large', 415: 'unsupported_media_type' }[status],
      );
      await conn.closed;
    }
    const wrongRoute = await exchange(
      rawRequest('POST', '/v1/embeddings', {
        ...auth,
        expect: '100-continue',
        'content-type': 'application/json',
        'content-length': '10',
      }),
    );
    expect(wrongRoute.reply).toMatchObject({ status: 404, interim: [] });
  });

  it('an acceptable request gets 100 Continue first, then its answer once the body follows', async () => {
    const conn = await RawConnection.open(srv.url);
    conn.write(expectContinue({ ...auth, 'content-type': 'application/json' }));
    await conn.until((d) => (d.startsWith('HTTP/1.1 100 Continue\r\n\r\n') ? true : undefined), '100 Continue');
    expect(conn.data).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    conn.write(small);
    const reply = await conn.response();
    expect(reply).toMatchObject({ status: 200, interim: [100] });
    expect(JSON.parse(reply.body).choices[0].token_ids).toHaveLength(4);
    conn.socket.destroy();
  });

  it('another expectation is 417 in the error shape', async () => {
    const { reply } = await exchange(
      rawRequest('POST', '/v1/completions', { ...auth, expect: 'teapot', 'content-type': 'application/json' }, small),
    );
    expect(reply.status).toBe(417);
    expect(JSON.parse(reply.body).error).toMatchObject({
      code: 'expectation_failed',
      message: 'unsupported expectation: Expect: teapot',
    });
  });
});

describe('half-closed clients', () => {
  const longRequest = (headers: Record<string, string> = {}, version?: string) =>
    rawRequest(
      'POST',
      '/v1/completions',
      { ...auth, 'content-type': 'application/json', ...headers },
      endless,
      version,
    );

  it('a client that half-closes after its request still gets the answer (plain and streamed)', async () => {
    const prompt = buildPrompt(engine.tokenizer, 'Compute 37*24 + 18*53 - 29*11.', 'parallel');
    for (const stream of [false, true]) {
      const conn = await RawConnection.open(srv.url);
      conn.write(
        rawRequest(
          'POST',
          '/v1/completions',
          { ...auth, 'content-type': 'application/json' },
          JSON.stringify({ prompt, max_tokens: 200, stream }),
        ),
      );
      conn.socket.end();
      const reply = await conn.response();
      await conn.closed;
      expect(reply.status).toBe(200);
      expect(reply.interim.every((s) => s === 100)).toBe(true);
      const text = stream
        ? sseEvents(reply.body)
            .slice(0, -1)
            .map((e) => e.choices[0].text)
            .join('')
        : JSON.parse(reply.body).choices[0].text;
      expect(text).toMatch(/^<think>/);
      expect(text.length).toBeGreaterThan(100);
    }
  });

  it('a long wait after the half-close: probed with 100 Continue on a kept-alive connection, never after Connection: close or HTTP/1.0', async () => {
    for (const [headers, version, probed] of [
      [{}, '1.1', true],
      [{ connection: 'close' }, '1.1', false],
      [{}, '1.0', false],
    ] as const) {
      const conn = await RawConnection.open(srv.url);
      conn.write(longRequest(headers, version));
      conn.socket.end();
      const reply = await conn.response();
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).choices[0].token_ids).toHaveLength(1000);
      if (probed) {
        expect(reply.interim.length).toBeGreaterThan(0);
        expect(new Set(reply.interim)).toEqual(new Set([100]));
      } else expect(reply.interim).toEqual([]);
      await conn.closed;
    }
  });

  it('a client that closes outright is told apart: its generation stops and the log says client closed', async () => {
    lines.length = 0;
    const conn = await RawConnection.open(srv.url);
    conn.write(longRequest());
    await until('the generation to run', async () => (await getJson(`${srv.url}/health`)).body.active === 1);
    conn.socket.destroy();
    await until('the log line', () => posts().length === 1);
    expect(posts()[0]).toMatch(/^POST \/v1\/completions client closed \d+ms$/);
    // The aborted generation gives its slot back long before its 1000 tokens could have been decoded.
    await until('the slot to be free', async () => (await getJson(`${srv.url}/health`)).body.active === 0);
  });

  it('a stream that goes quiet is probed with SSE comments: a half-closed client reads on, a client gone is noticed at once', async () => {
    // A stop string the repeated digits keep looking like the start of: every token is held back,
    // so after its headers the stream writes nothing until the generation ends.
    const quiet = JSON.stringify({ prompt: [1], max_tokens: 1000, stream: true, stop: ['0'.repeat(1000) + 'x'] });
    const send = async () => {
      const conn = await RawConnection.open(srv.url);
      conn.write(rawRequest('POST', '/v1/completions', { ...auth, 'content-type': 'application/json' }, quiet));
      await conn.until((d) => (d.includes('\r\n\r\n') ? true : undefined), 'the stream headers');
      return conn;
    };
    const halfClosed = await send();
    halfClosed.socket.end();
    const reply = await halfClosed.response();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain(':\n\n');
    const events = sseEvents(reply.body);
    expect(events.at(-1)).toBe('[DONE]');
    expect(assemble(events, 'text').ids[0]).toHaveLength(1000);

    const gone = await send();
    const steps = engine.stats.decodeSteps;
    gone.socket.destroy();
    await until('the slot to be free', async () => (await getJson(`${srv.url}/health`)).body.active === 0);
    expect(engine.stats.decodeSteps - steps).toBeLessThan(900);
  });

  it('a stream cut after its headers logs its status and that the client closed', async () => {
    lines.length = 0;
    const conn = await RawConnection.open(srv.url);
    conn.write(
      rawRequest(
        'POST',
        '/v1/completions',
        { ...auth, 'content-type': 'application/json' },
        JSON.stringify({ prompt: [1], max_tokens: 1000, stream: true }),
      ),
    );
    await conn.until((d) => (d.includes('data: ') ? true : undefined));
    conn.socket.destroy();
    await until('the log line', () => posts().length === 1);
    expect(posts()[0]).toMatch(/^POST \/v1\/completions 200 \(client closed\) \d+ms$/);
  });
});

describe('paths', () => {
  it('merges repeated slashes: //v1/models is /v1/models, the key still applies', async () => {
    const plain = await getJson(`${srv.baseURL}/models`, auth);
    for (const path of ['//v1/models', '/v1//models', '//v1//models?x=1']) {
      const { reply } = await exchange(rawRequest('GET', path, auth));
      expect(reply.status, path).toBe(200);
      expect(JSON.parse(reply.body)).toEqual(plain.body);
    }
    expect((await exchange(rawRequest('GET', '//v1/models'))).reply.status).toBe(401);
    // Absolute-form targets (as sent to proxies) are read by their path.
    expect((await exchange(rawRequest('GET', 'http://elsewhere/v1/models', auth))).reply.status).toBe(200);
    const missing = await exchange(rawRequest('GET', '//nothing', auth));
    expect(JSON.parse(missing.reply.body).error.message).toBe('no route for GET /nothing');
    expect(requestPath('/v1/models/a%2Fb?q#f')).toBe('/v1/models/a%2Fb');
  });
});

describe('shutdown against slow clients', () => {
  it('a client trickling its body cannot hold close() past the grace period; it is answered 503', async () => {
    const local = await startServer({ engine, shutdownGraceMs: 300 });
    extra.push(local);
    const body = JSON.stringify({ prompt: 'Compute 2*3.', max_tokens: 4, pad: 'x'.repeat(500) });
    const trickler = await trickle(local.url, '/v1/completions', body);
    // A second client never finishes its headers.
    const slowHeaders = await RawConnection.open(local.url);
    slowHeaders.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\n');
    await until('the trickled request to be in flight', () => trickler.sent() > 5);
    try {
      await local.close();
      await Promise.all([trickler.conn.closed, slowHeaders.closed]);
    } finally {
      trickler.stop();
    }
    const reply = shutdownReply(trickler);
    expect(reply.sent).toBeLessThan(body.length);
    expect(reply).toMatchObject({ status: 503, code: 'shutting_down' });
    expect(slowHeaders.data).toBe('');
    expect(local.openConnections()).toBe(0);
  });

  it('within the grace period a trickled body that completes is answered in full', async () => {
    const local = await startServer({ engine, shutdownGraceMs: 60_000 });
    extra.push(local);
    const conn = await RawConnection.open(local.url);
    const arrived = new Promise((resolve) => local.server.once('request', resolve));
    conn.write(
      rawRequest('POST', '/v1/completions', {
        'content-type': 'application/json',
        'content-length': String(small.length),
      }),
    );
    conn.write(small.slice(0, 5));
    await arrived;
    const closed = local.close();
    for (const ch of small.slice(5)) {
      conn.write(ch);
      await new Promise((r) => setTimeout(r, 5));
    }
    const reply = await conn.response();
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    await closed;
    await postJson(`${srv.baseURL}/completions`, JSON.parse(small), auth); // the shared server is untouched
  });
});
