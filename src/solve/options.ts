import { z } from 'zod';
import { nearestName } from '../internal/edit-distance.js';
import { CONTROLLER_EVENTS as EVENTS } from '../orchestrator/events.js';
import { EXTRACT_POLICIES } from '../math/extract.js';
import { resolveDialect, type FormatSpec } from '../format/dialects.js';
import type { Dialect } from '../format/dialect.js';
import { DECOMPOSE_POLICIES } from '../decompose/run.js';
import { AFFINITY_KEY } from '../engine/session.js';
import type { SolveOptions } from './types.js';

// The library boundary: `solve()` options come from code we do not control (JavaScript callers,
// options built from config files), so a wrong value is an error naming the option and what it
// accepts, never a silent default.

const shown = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v === 'function' ? 'a function' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
};
const got = (iss: { input?: unknown }) => ` (got ${shown(iss.input)})`;

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (iss) => `must be one of ${values.map((v) => `'${v}'`).join(', ')}${got(iss)}` });

const wholeAtLeast = (min: number) => {
  const message = `must be a whole number ≥ ${min}`;
  return z
    .number({ error: (iss) => message + got(iss) })
    .int({ error: (iss) => message + got(iss) })
    .min(min, { error: (iss) => message + got(iss) });
};

const finite = (what: string) =>
  z
    .number({ error: (iss) => `must be ${what}${got(iss)}` })
    .refine(Number.isFinite, { error: (iss) => `must be ${what}${got(iss)}` });

const listener = z.custom<(...args: never[]) => void>((v) => typeof v === 'function', {
  error: (iss) => `must be a function${got(iss)}`,
});

const engineSchema = z.custom<object>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    ['complete', 'completeSiblings'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function') &&
    'tokenizer' in v,
  { error: (iss) => `must be an Engine (an object with tokenizer, complete() and completeSiblings())${got(iss)}` },
);

/** Every option `solve()` takes, with what it accepts (`satisfies`: no more, no fewer than SolveOptions has). */
export const solveOptionsSchema = z.object({
  mode: oneOf(['parallel', 'sequential']).optional(),
  maxTokens: wholeAtLeast(1).optional(),
  contextLimit: wholeAtLeast(1).optional(),
  maxTransitions: wholeAtLeast(1).optional(),
  temperature: finite('a number ≥ 0 (0 is greedy)')
    .refine((t) => t >= 0, { error: (iss) => `must be a number ≥ 0 (0 is greedy)${got(iss)}` })
    .optional(),
  topP: finite('a number in (0, 1]')
    .refine((p) => p > 0 && p <= 1, { error: (iss) => `must be a number in (0, 1]${got(iss)}` })
    .optional(),
  seed: wholeAtLeast(0)
    .refine(Number.isSafeInteger, { error: (iss) => `must be a whole number ≥ 0 up to 2^53 − 1${got(iss)}` })
    .optional(),
  controls: z
    .strictObject(
      {
        topK: z.number().int().min(-1).optional(),
        minP: z.number().min(0).max(1).optional(),
        repetitionPenalty: z.number().gt(0).optional(),
        presencePenalty: z.number().min(-2).max(2).optional(),
        frequencyPenalty: z.number().min(-2).max(2).optional(),
      },
      {
        error: (iss) =>
          iss.code === 'unrecognized_keys'
            ? `has no control ${iss.keys.map((k) => `'${k}'`).join(', ')}; the controls are topK, minP, repetitionPenalty, presencePenalty, frequencyPenalty`
            : `must be an object of sampling controls${got(iss)}`,
      },
    )
    .optional(),
  signal: z.instanceof(AbortSignal, { error: (iss) => `must be an AbortSignal${got(iss)}` }).optional(),
  engine: engineSchema.optional(),
  model: z
    .string({ error: (iss) => `must be a model folder or Hugging Face id${got(iss)}` })
    .min(1, { error: 'must not be empty' })
    .optional(),
  dtype: oneOf(['q8', 'fp32']).optional(),
  threads: wholeAtLeast(1).optional(),
  promptStyle: oneOf(['trained', 'instructed']).optional(),
  prompt: z
    .strictObject(
      {
        style: oneOf(['trained', 'instructed']).optional(),
        suffix: z.string({ error: (iss) => `must be a string${got(iss)}` }).optional(),
        sequentialSystem: z.boolean({ error: (iss) => `must be true or false${got(iss)}` }).optional(),
        chatTemplateKwargs: z
          .record(z.string(), z.unknown(), { error: (iss) => `must be an object of template variables${got(iss)}` })
          .optional(),
      },
      {
        error: (iss) =>
          iss.code === 'unrecognized_keys'
            ? `has no field ${iss.keys.map((k) => `'${k}'`).join(', ')}`
            : `must be a prompt format object${got(iss)}`,
      },
    )
    .optional(),
  extract: oneOf(EXTRACT_POLICIES).optional(),
  system: z.string({ error: (iss) => `must be a string${got(iss)}` }).optional(),
  history: z
    .array(z.strictObject({ role: z.enum(['user', 'assistant']), content: z.string() }), {
      error: (iss) => `must be an array of { role: 'user' | 'assistant', content } turns${got(iss)}`,
    })
    .optional(),
  on: z
    .strictObject(Object.fromEntries(EVENTS.map((e) => [e, listener.optional()])), {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `has no event ${iss.keys.map((k) => `'${k}'`).join(', ')}; the events are ${EVENTS.join(', ')}`
          : `must be an object of event listeners${got(iss)}`,
    })
    .optional(),
  // Options added after `on` keep the list of options in its documented order.
  decompose: oneOf(DECOMPOSE_POLICIES).optional(),
  // Checked for its kind here; checkSolveOptions reads it (once) into the Dialect the run uses.
  format: z
    .unknown()
    .refine((v) => v === undefined || typeof v === 'string' || (typeof v === 'object' && v !== null), {
      error: (iss) => `must be a format name, a format spec or a Dialect${got(iss)}`,
    })
    .optional(),
  affinityKey: z
    .string({ error: (iss) => `must be a string${got(iss)}` })
    .regex(AFFINITY_KEY, {
      error: (iss) =>
        `must be 1 to 200 printable ASCII characters without spaces (it is sent in HTTP headers)${got(iss)}`,
    })
    .optional(),
} satisfies Record<keyof SolveOptions, z.ZodType>);

const OPTION_NAMES = Object.keys(solveOptionsSchema.shape);
const EMBEDDED_ONLY = ['model', 'dtype', 'threads'] as const;

/**
 * Check `solve()` options; throws a TypeError that names each bad option and what it accepts.
 * Returns the trajectory format the options name, read once (`format` text is parsed here only).
 */
export function checkSolveOptions(options: unknown): Dialect {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`solve: options must be an object${got({ input: options })}`);
  }
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    if (OPTION_NAMES.includes(key)) continue;
    const near = nearestName(key, OPTION_NAMES, 2);
    problems.push(
      `unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}; the options are ${OPTION_NAMES.join(', ')}`,
    );
  }
  const parsed = solveOptionsSchema.safeParse(options);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push(`option '${issue.path.map(String).join('.')}' ${issue.message}`);
  }
  const o = options as Record<string, unknown>;
  if (o.engine !== undefined) {
    const stray = EMBEDDED_ONLY.filter((k) => o[k] !== undefined);
    if (stray.length)
      problems.push(
        `${stray.map((k) => `'${k}'`).join(', ')} choose the embedded engine and cannot be combined with 'engine'`,
      );
  }
  let dialect: Dialect | undefined;
  if (parsed.success) {
    try {
      dialect = resolveDialect(o.format as string | FormatSpec | Dialect | undefined);
    } catch (err) {
      problems.push(`option 'format' is not a format: ${(err as Error).message}`);
    }
  }
  if (problems.length || !dialect) throw new TypeError(`solve: ${problems.join('; ')}`);
  return dialect;
}
