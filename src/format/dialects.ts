/**
 * The formats by name, with their options: `threadweaver` (the default), `multiverse`,
 * `parallel-r1`, `npr`. A format is named as `NAME` or `NAME:key=value,...` on the command line
 * and in presets, e.g. `parallel-r1:paths=4` or `multiverse:depth=3`.
 */
import { z } from 'zod';
import { DIALECT_NAMES, type Dialect, type DialectLimits, type DialectName } from './dialect.js';
import { multiverse } from './multiverse.js';
import { npr } from './npr.js';
import { parallelR1 } from './parallel-r1.js';
import { threadweaver } from './threadweaver.js';
import { FormatError } from './errors.js';

/** A format and the settings that differ from its defaults. */
export interface FormatSpec {
  name: DialectName;
  /** Parallel-R1: paths per block (default 2). */
  paths?: number;
  /** Multiverse: how deep blocks may nest (default 6). */
  depth?: number;
  /** Threads started per block (default 50; Parallel-R1: its paths). */
  threads?: number;
  /** Blocks per run (default: none). */
  blocks?: number;
  /** Tokens one thread may generate before it is closed (default: none). */
  threadTokens?: number;
}

export const DEFAULT_FORMAT: DialectName = 'threadweaver';

const whole = (min: number) => z.number().int().min(min);
export const formatSpecSchema = z.strictObject({
  name: z.enum(DIALECT_NAMES),
  paths: whole(1).max(64).optional(),
  depth: whole(1).max(16).optional(),
  threads: whole(1).max(1000).optional(),
  blocks: whole(1).optional(),
  threadTokens: whole(1).optional(),
});

const ONLY: Partial<Record<keyof FormatSpec, DialectName>> = { paths: 'parallel-r1', depth: 'multiverse' };
const KEYS: Record<string, keyof FormatSpec> = {
  paths: 'paths',
  depth: 'depth',
  threads: 'threads',
  blocks: 'blocks',
  'thread-tokens': 'threadTokens',
};

/** `NAME` or `NAME:key=value,...` as a spec; errors say what is accepted. */
export function parseFormatSpec(text: string): FormatSpec {
  const [name = '', options = ''] = text.split(/:(.*)/s);
  const raw: Record<string, unknown> = { name: name.trim() };
  for (const pair of options.split(',').filter((p) => p.trim())) {
    const [k = '', v = ''] = pair.split('=').map((s) => s.trim());
    const key = KEYS[k];
    if (!key)
      throw new FormatError(`format ${text}: unknown setting '${k}' (settings: ${Object.keys(KEYS).join(', ')})`);
    const n = Number(v);
    raw[key] = v !== '' && Number.isFinite(n) ? n : v;
  }
  return checkFormatSpec(raw, text);
}

/** A spec object checked (zod), with settings that belong to another format refused. */
export function checkFormatSpec(value: unknown, shown = JSON.stringify(value)): FormatSpec {
  const parsed = formatSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    const what = field === 'name' ? `must be one of ${DIALECT_NAMES.join(', ')}` : issue.message;
    throw new FormatError(`format ${shown}: ${field ? `${field} ` : ''}${what}`);
  }
  const spec = parsed.data as FormatSpec;
  for (const [key, only] of Object.entries(ONLY)) {
    if (spec[key as keyof FormatSpec] !== undefined && spec.name !== only)
      throw new FormatError(`format ${shown}: '${key}' applies to ${only} only`);
  }
  return spec;
}

/** The spec of a format as written on the command line (`parallel-r1:paths=4`). */
export function formatSpecText(spec: FormatSpec): string {
  const settings = Object.entries(KEYS)
    .filter(([, key]) => spec[key] !== undefined)
    .map(([k, key]) => `${k}=${spec[key]}`);
  return settings.length ? `${spec.name}:${settings.join(',')}` : spec.name;
}

/** A format by name, spec text, spec object, or a Dialect as is (default ThreadWeaver). */
export function resolveDialect(format?: string | FormatSpec | Dialect): Dialect {
  if (format === undefined) return threadweaver;
  if (typeof format === 'object' && 'forkTrigger' in format) return format;
  const spec = typeof format === 'string' ? parseFormatSpec(format) : checkFormatSpec(format);
  const base =
    spec.name === 'multiverse'
      ? multiverse({ maxDepth: spec.depth })
      : spec.name === 'parallel-r1'
        ? parallelR1({ paths: spec.paths })
        : spec.name === 'npr'
          ? npr()
          : threadweaver;
  const limits: Partial<DialectLimits> = {
    ...(spec.threads !== undefined ? { maxThreads: spec.threads } : {}),
    ...(spec.blocks !== undefined ? { maxBlocks: spec.blocks } : {}),
    ...(spec.threadTokens !== undefined ? { maxThreadTokens: spec.threadTokens } : {}),
  };
  return Object.keys(limits).length ? { ...base, limits: { ...base.limits, ...limits } } : base;
}

export { threadweaver, multiverse, parallelR1, npr };
