import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../internal/package-root.js';
import { ApiError } from './errors.js';
import type { HttpResponse } from './response.js';

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

/** A page or asset as a response, with the pages' headers. */
export function pageResponse(type: string, body: string | Uint8Array): HttpResponse {
  return { status: 200, headers: { ...PAGE_HEADERS, 'Content-Type': type }, body };
}

/** One file of the web folder (plain names only: nothing outside the folder can be asked for). */
export async function webFile(name: string): Promise<HttpResponse> {
  const type = TYPES[path.extname(name)];
  if (!type || !/^[\w.-]+$/.test(name) || name.startsWith('.'))
    throw new ApiError(404, `no such file: ${name}`, 'not_found_error');
  let body: Buffer;
  try {
    body = await readFile(path.join(WEB_DIR, name));
  } catch {
    throw new ApiError(404, `no such file: ${name}`, 'not_found_error');
  }
  return pageResponse(type, body);
}
