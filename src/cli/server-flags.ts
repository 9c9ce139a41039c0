import { z } from 'zod';
import { DEFAULT_SHUTDOWN_GRACE_MS } from '../server/http/host.js';
import type { ServerOptions } from '../server/serve/server.js';
import { intFlag, numberFlag } from './args.js';

/** Flags of the commands that run an HTTP API server over a model (serve, gateway). */
export const serverFlagOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'served-model-name': { type: 'string' },
  'max-tokens-limit': { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-queued': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'shutdown-grace': { type: 'string' },
  'exit-with-parent': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export const serverFlagSchema = z.object({
  host: z.string().min(1).optional(),
  port: intFlag().min(0).max(65535).optional(),
  servedModelName: z.string().min(1).optional(),
  maxTokensLimit: intFlag().min(1).optional(),
  maxConcurrent: intFlag().min(1).optional(),
  maxQueued: intFlag().min(0).optional(),
  maxBodyBytes: intFlag().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  shutdownGrace: numberFlag().min(0).optional(),
  exitWithParent: z.enum(['auto', 'on', 'off']).optional(),
  quiet: z.boolean().optional(),
});

/** Usage lines of the flags every server command shares (`what` names what a slot runs: generations, runs). */
export function serverFlagUsage(o: { port: number; what: string; modelName: string }): string {
  return `  --host H                  interface to bind (default 127.0.0.1: this machine only)
  --port P                  port (default ${o.port}; 0 picks a free one)
  --api-key K               require "Authorization: Bearer K" on /v1/* (default: $THREADWEAVER_API_KEY)
  --served-model-name NAME  ${o.modelName}
  --max-tokens-limit N      refuse response budgets above N (default: the context length)
  --max-concurrent N        ${o.what} at once (default 4); others wait their turn
  --max-queued N            ${o.what.split(' ')[0]} that may wait (default 256); beyond that, 503
  --max-body-bytes N        largest request body (default 1048576)
  --shutdown-grace S        on SIGINT/SIGTERM, seconds requests in flight get to finish before
                            they are cut off (default ${DEFAULT_SHUTDOWN_GRACE_MS / 1000}); a second signal exits at once
  --exit-with-parent auto|on|off   close (as on SIGTERM) when the process that started the
                            server dies; auto (default): only when started through npm or npx
  --quiet                   no request log on stderr`;
}

/** The API key: the flag, else $THREADWEAVER_API_KEY (empty means none). */
export function serverApiKey(values: { apiKey?: string | undefined }): string | undefined {
  return values.apiKey ?? (process.env.THREADWEAVER_API_KEY || undefined);
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** The server options the flags set (the engine is the command's). */
export function serverOptionsFromFlags(
  values: z.infer<typeof serverFlagSchema>,
  defaultPort: number,
): Omit<ServerOptions, 'engine'> {
  const apiKey = serverApiKey(values);
  return {
    host: values.host ?? '127.0.0.1',
    port: values.port ?? defaultPort,
    apiKey,
    shutdownGraceMs: (values.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE_MS / 1000) * 1000,
    modelName: values.servedModelName,
    maxTokensLimit: values.maxTokensLimit,
    maxConcurrent: values.maxConcurrent,
    maxQueued: values.maxQueued,
    maxBodyBytes: values.maxBodyBytes,
    ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) }),
  };
}

/** Say where the server listens; warn when it is reachable from elsewhere without a key. */
export function announceServer(
  command: string,
  options: Pick<ServerOptions, 'host' | 'apiKey'>,
  line: string,
  after = '',
): void {
  const host = options.host ?? '127.0.0.1';
  if (!options.apiKey && !LOOPBACK.has(host)) {
    process.stderr.write(`warning: listening on ${host} without an API key: anyone who can reach it can use it\n`);
  }
  process.stdout.write(`threadweaver ${command}: ${line}${options.apiKey ? ' (API key required)' : ''}${after}\n`);
}
