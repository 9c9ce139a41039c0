import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import type { Handler } from './context.js';
import { ApiError } from './errors.js';

/** The web pages' folder: plain HTML, CSS and JS, served as they are (no build step). */
export const WEB_DIR = path.join(packageRoot(), 'src', 'server', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Pages load nothing but this server's own files: no CDN, no external fonts, works offline. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

export function sendBody(res: ServerResponse, type: string, body: string | Buffer): void {
  res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export async function sendWebFile(res: ServerResponse, name: string): Promise<void> {
  const type = TYPES[path.extname(name)];
  // Plain names only: nothing outside the web folder can be asked for.
  if (!type || !/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new ApiError(404, `no such file: ${name}`, 'not_found_error');
  let body: Buffer;
  try {
    body = await readFile(path.join(WEB_DIR, name));
  } catch {
    throw new ApiError(404, `no such file: ${name}`, 'not_found_error');
  }
  sendBody(res, type, body);
}

/** A route's handler that answers with one page of the web folder. */
export const webPage =
  (name: string): Handler =>
  (_server, { res }) =>
    sendWebFile(res, name);

/** `/assets/*`: the pages' scripts and styles. */
export const webAsset: Handler = (_server, { res, param }) => sendWebFile(res, param ?? '');
