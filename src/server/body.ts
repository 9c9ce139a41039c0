import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ApiError, badRequest, validationError } from './errors.js';

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `request body exceeds the limit of ${maxBytes} bytes`, 'invalid_request_error', null, 'request_too_large');
}

/**
 * Read and parse a JSON request body of at most `maxBytes`. A declared Content-Length over the
 * limit is refused before reading; a body that grows past it stops being buffered at once.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    // Events, not `for await`: leaving an async iterator early destroys the socket, and the 413
    // could not be sent. Past the limit the rest is read and dropped.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) got.push(chunk);
      else {
        req.off('data', onData);
        req.resume();
        reject(tooLarge(maxBytes));
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(got));
    req.once('error', reject);
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
export async function parseJsonBody<S extends z.ZodType>(req: IncomingMessage, maxBytes: number, schema: S): Promise<z.infer<S>> {
  const result = schema.safeParse(await readJsonBody(req, maxBytes));
  if (!result.success) throw validationError(result.error);
  return result.data;
}
