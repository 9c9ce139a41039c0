import { z } from 'zod';
import type { ServerOptions } from '../server/server.js';
import { intFlag } from './args.js';

/** Flags of the commands that run an HTTP API server over a model (gateway; serve's are the same). */
export const serverFlagOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  'served-model-name': { type: 'string' },
  'max-tokens-limit': { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-queued': { type: 'string' },
  'max-body-bytes': { type: 'string' },
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
  quiet: z.boolean().optional(),
});

export const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** The server options the flags set (the API key and engine are the command's). */
export function serverOptionsFromFlags(values: z.infer<typeof serverFlagSchema>, defaultPort: number): Omit<ServerOptions, 'engine'> {
  return {
    host: values.host ?? '127.0.0.1',
    port: values.port ?? defaultPort,
    ...(values.servedModelName ? { modelName: values.servedModelName } : {}),
    ...(values.maxTokensLimit ? { maxTokensLimit: values.maxTokensLimit } : {}),
    ...(values.maxConcurrent ? { maxConcurrent: values.maxConcurrent } : {}),
    ...(values.maxQueued !== undefined ? { maxQueued: values.maxQueued } : {}),
    ...(values.maxBodyBytes ? { maxBodyBytes: values.maxBodyBytes } : {}),
    ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) }),
  };
}
