import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { ApiError, badRequest, validationError } from './errors.js';

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    `request body exceeds the limit of ${maxBytes} bytes`,
    'invalid_request_error',
    null,
    'request_too_large',
  );
}

/**
 * Whether a Content-Type header names JSON: `application/json`, any case, with parameters
 * allowed; a charset, when given, must be UTF-8 (the only encoding JSON has).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    const [name, value = ''] = p.split('=');
    return name!.trim().toLowerCase() !== 'charset' || /^"?utf-?8"?$/i.test(value.trim());
  });
}

/**
 * What can be refused from the headers alone, before any byte of the body is read: a media type
 * other than JSON (415; this also keeps a web page's plain form posts, which cannot send JSON
 * without a CORS preflight, from reaching the model) and a declared length over the limit (413).
 */
function checkJsonHeaders(req: IncomingMessage, maxBytes: number): void {
  const type = req.headers['content-type'];
  if (!isJsonContentType(type)) {
    throw new ApiError(
      415,
      `the request body must be JSON: send the header \`Content-Type: application/json\` (got ${type ? `'${type}'` : 'none'})`,
      'invalid_request_error',
      null,
      'unsupported_media_type',
      { 'Accept-Post': 'application/json' },
    );
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
}

/** True when the client waits for `100 Continue` before sending the body (HTTP/1.1 only). */
function expectsContinue(req: IncomingMessage): boolean {
  return (
    req.httpVersionMajor === 1 &&
    req.httpVersionMinor >= 1 &&
    /(^|,)\s*100-continue\s*(,|$)/i.test(req.headers.expect ?? '')
  );
}

/**
 * Admit a request's JSON body: refuse what the headers allow (`checkJsonHeaders`), then tell a
 * client that sent `Expect: 100-continue` to go on. Call it once the request passed every other
 * check that needs no body (key, route), so a refused client never sends its body.
 */
export function admitJsonBody(req: IncomingMessage, writeContinue: () => void, maxBytes: number): void {
  checkJsonHeaders(req, maxBytes);
  if (expectsContinue(req)) writeContinue();
}

/**
 * Read and parse a JSON request body of at most `maxBytes` (admitted first: see admitJsonBody).
 * A body that grows past the limit stops being buffered at once; `signal` (a client gone, a
 * shutdown) stops the read with its reason.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, signal?: AbortSignal): Promise<unknown> {
  if (signal?.aborted) throw signal.reason;
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    const stop = (err: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', stop);
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = () => stop(signal!.reason);
    // Events, not `for await`: leaving an async iterator early destroys the socket, and the 413
    // could not be sent.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) got.push(chunk);
      else stop(tooLarge(maxBytes));
    };
    const onEnd = () => {
      signal?.removeEventListener('abort', onAbort);
      req.off('error', stop);
      resolve(got);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', stop);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty: send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Read the JSON body and validate it with `schema` (400 with zod's messages, fields named). */
export async function parseJsonBody<S extends z.ZodType>(
  req: IncomingMessage,
  maxBytes: number,
  schema: S,
  signal?: AbortSignal,
): Promise<z.infer<S>> {
  const result = schema.safeParse(await readJsonBody(req, maxBytes, signal));
  if (!result.success) throw validationError(result.error);
  return result.data;
}
