import { stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveTokenizer } from '../../engine/remote/openai.js';
import type { Tokenizer } from '../../engine/types.js';
import { ApiError } from '../http/errors.js';
import { startHost, type Host, type RequestHandler } from '../http/host.js';
import { jsonResponse } from '../http/response.js';
import { pageResponse, webFile } from '../http/static.js';
import { loadRun, problemView, runCharts, runOverview, type LoadedRun } from './run.js';

/**
 * Options of startViewer: the run to show, where to listen, the tokenizer for rows stored without
 * ids, and the request log.
 */
export interface ViewerOptions {
  /** An eval run folder, a rollouts folder, or one results/rollouts file. */
  target: string;
  host?: string;
  port?: number;
  /** Counts tokens of rows stored without ids (default: the bundled model's tokenizer). */
  tokenizer?: Tokenizer;
  log?: (line: string) => void;
}

/** The viewer's server (see Host): its URL, and close(). */
export type RunningViewer = Host;

/**
 * `threadweaver view`: a read-only web viewer of a run folder. The folder is read again when its
 * files change, so a run in progress can be watched by reloading the page.
 */
export async function startViewer(options: ViewerOptions): Promise<RunningViewer> {
  const tokenizer = options.tokenizer ?? (await resolveTokenizer());
  let run = await loadRun(options.target);
  let signature = await filesSignature(run);

  async function current(): Promise<LoadedRun> {
    const now = await filesSignature(run);
    if (now !== signature) {
      run = await loadRun(options.target);
      signature = await filesSignature(run);
    }
    return run;
  }

  const handle: RequestHandler = async (req) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new ApiError(405, `${url.pathname} accepts GET only`, 'invalid_request_error', null, 'method_not_allowed', {
        Allow: 'GET',
      });
    const p = url.pathname;
    if (p === '/' || p === '/problem') return webFile('view.html');
    if (p.startsWith('/assets/')) return webFile(p.slice('/assets/'.length));
    if (p === '/api/run') return jsonResponse(200, runOverview(await current()));
    if (p === '/api/problem') {
      const dataset = url.searchParams.get('dataset') ?? '';
      const id = url.searchParams.get('id') ?? '';
      const view = problemView(await current(), dataset, id, tokenizer);
      if (!view) throw new ApiError(404, `no problem ${dataset}/${id} in this run`, 'not_found_error');
      return jsonResponse(200, view);
    }
    const chart = /^\/api\/charts\/(\d+)\.svg$/.exec(p);
    if (chart) {
      const svg = runCharts(await current())[Number(chart[1])]?.svg;
      if (!svg) throw new ApiError(404, `no chart ${chart[1]}`, 'not_found_error');
      return pageResponse('image/svg+xml', svg);
    }
    throw new ApiError(404, `no route for GET ${p}`, 'not_found_error', null, 'unknown_url');
  };

  // A read-only viewer has nothing in flight worth waiting for at shutdown.
  return startHost(handle, {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    shutdownGraceMs: 0,
    log: options.log,
  });
}

async function filesSignature(run: LoadedRun): Promise<string> {
  const parts = await Promise.all(
    run.files.map(async (f) => {
      try {
        const s = await stat(path.join(run.dir, f));
        return `${f}:${s.size}:${s.mtimeMs}`;
      } catch {
        return `${f}:gone`;
      }
    }),
  );
  return parts.join('|');
}
