import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse argv with node's parseArgs, then validate the values with a zod schema.
 * Flag names are kebab-case on the command line and camelCase in the result.
 * Errors become UsageErrors carrying zod's messages.
 */
export function parseCommandArgs<S extends z.ZodType>(
  args: string[],
  options: Options,
  schema: S,
): { values: z.infer<S>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const camel: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    camel[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  const result = schema.safeParse(camel);
  if (!result.success) {
    const msg = result.error.issues
      .map(
        (i) =>
          `--${i.path
            .map(String)
            .join('.')
            .replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${i.message}`,
      )
      .join('; ');
    throw new UsageError(msg);
  }
  return { values: result.data, positionals: parsed.positionals };
}

/** A numeric flag given as a string on the command line. */
export const numberFlag = () => z.coerce.number().refine(Number.isFinite, 'must be a number');
export const intFlag = () => z.coerce.number().int('must be a whole number');
