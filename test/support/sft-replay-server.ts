/**
 * A loopback OpenAI-compatible server for the SFT tests: `/v1/chat/completions` answers from
 * recorded replies, picked by substrings of the request's messages and the number of messages
 * (retries are longer conversations). Every request is recorded; unmatched ones get a 400.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReplayRule {
  note: string;
  /** Substrings that must all occur in the request's messages (joined). */
  when: string[];
  /** The number of messages the request must have (1 = first attempt). Any when absent. */
  turn?: number;
  reply: string;
}

export interface RecordedRequest {
  body: { model: string; messages: { role: string; content: string }[]; [k: string]: unknown };
  /** The rule that answered, or null. */
  rule: string | null;
}

export interface ReplayServer {
  /** The base URL to hand the client (ends in /v1). */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startReplayServer(
  rules: readonly ReplayRule[],
  options: { delayMs?: number } = {},
): Promise<ReplayServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions')
        return send(404, { error: { message: `no route ${req.method} ${req.url}` } });
      const body = JSON.parse(await readBody(req)) as RecordedRequest['body'];
      const text = body.messages.map((m) => m.content).join('\n');
      const rule = rules.find(
        (r) => r.when.every((w) => text.includes(w)) && (r.turn === undefined || r.turn === body.messages.length),
      );
      requests.push({ body, rule: rule?.note ?? null });
      if (!rule)
        return send(400, { error: { message: 'no recorded answer for this request', type: 'invalid_request_error' } });
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (res.destroyed) return;
      send(200, {
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: rule.reply }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: Math.ceil(text.length / 4),
          completion_tokens: Math.ceil(rule.reply.length / 4),
          total_tokens: 0,
        },
      });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
