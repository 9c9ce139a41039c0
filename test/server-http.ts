// Helpers for the server tests: JSON requests and SSE streams over real HTTP.

export interface JsonReply {
  status: number;
  headers: Headers;
  body: any;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonReply> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The `data:` payloads of an SSE body, `[DONE]` kept as the string. */
export function sseEvents(text: string): any[] {
  const events: any[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    if (!block.startsWith('data: ')) throw new Error(`not an SSE data block: ${JSON.stringify(block)}`);
    const data = block.slice('data: '.length);
    events.push(data === '[DONE]' ? data : JSON.parse(data));
  }
  return events;
}

export async function postStream(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; events: any[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...(body as object), stream: true }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, events: res.headers.get('content-type')?.startsWith('text/event-stream') ? sseEvents(text) : [JSON.parse(text)] };
}

/** Per choice index: the joined text deltas and the last chunk's choice (finish_reason set). */
export function assemble(events: any[], field: 'text' | 'content'): { texts: string[]; finals: any[] } {
  const texts: string[] = [];
  const finals: any[] = [];
  for (const e of events) {
    if (e === '[DONE]') continue;
    for (const c of e.choices) {
      const piece = field === 'text' ? c.text : c.delta.content;
      texts[c.index] = (texts[c.index] ?? '') + (piece ?? '');
      if (c.finish_reason !== null) finals[c.index] = c;
    }
  }
  return { texts, finals };
}
