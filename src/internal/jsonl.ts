import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { z } from 'zod';

/** One zod issue, as the JSONL readers report it. */
export interface RowIssue {
  path: readonly PropertyKey[];
  message: string;
}

export interface JsonLineOptions {
  /** The error class to throw (default Error). */
  error?: new (message: string) => Error;
  /** How to word the first issue (default: `field "a.b": is missing` or the schema's message). */
  describe?: (json: unknown, issue: RowIssue) => string;
}

/** `field "a.b": is missing`, `field "a.b": <message>`, or `row: <message>`. */
export function describeIssue(json: unknown, issue: RowIssue): string {
  if (issue.path.length === 0) return `row: ${issue.message}`;
  let value: unknown = json;
  for (const key of issue.path)
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return `field "${issue.path.map(String).join('.')}": ${value === undefined ? 'is missing' : issue.message}`;
}

/**
 * Parse one line of a JSONL file against a schema. Every error starts with `where`
 * (`file:line`) and names the field, so a bad row in a large file is found at once.
 */
export function parseJsonLine<S extends z.ZodType>(
  line: string,
  where: string,
  schema: S,
  options: JsonLineOptions = {},
): z.output<S> {
  const Fail = options.error ?? Error;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    throw new Fail(`${where}: invalid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Fail(`${where}: ${(options.describe ?? describeIssue)(json, issue)}`);
  }
  return parsed.data;
}

/** One line of JSONL text: its text, 1-based number, and whether a newline ended it (a torn last line has none). */
export interface JsonLine {
  text: string;
  line: number;
  complete: boolean;
}

/** The non-blank lines of JSONL text (CRLF or LF), numbered as an editor numbers them. */
export function* jsonLines(text: string): Generator<JsonLine> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() !== '') yield { text: line, line: i + 1, complete: i < lines.length - 1 };
  }
}

/** Every non-blank line of JSONL text parsed against `schema`, with its line number; errors name `file:line`. */
export function parseJsonLines<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  options: JsonLineOptions = {},
): { row: z.output<S>; line: number }[] {
  return [...jsonLines(text)].map((l) => ({
    row: parseJsonLine(l.text, `${file}:${l.line}`, schema, options),
    line: l.line,
  }));
}

/**
 * Stream a JSONL file's rows (blank lines skipped) with their line numbers, parsed by `parse`
 * (`where` is `file:line`), without reading the whole file at once. A missing or unreadable file
 * is an error of `options.error` naming it; an aborted `signal` stops the reading with its reason.
 */
export async function* readJsonLines<R>(
  file: string,
  parse: (line: string, where: string) => R,
  options: Pick<JsonLineOptions, 'error'> & { signal?: AbortSignal | undefined } = {},
): AsyncGenerator<{ row: R; line: number }> {
  const input = createReadStream(file);
  try {
    await new Promise<void>((resolve, reject) => {
      input.once('open', () => resolve());
      input.once('error', reject);
    });
  } catch (err) {
    const Fail = options.error ?? Error;
    const code = (err as NodeJS.ErrnoException).code;
    throw new Fail(code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(err as Error).message}`);
  }
  let line = 0;
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      options.signal?.throwIfAborted();
      line++;
      if (text.trim() !== '') yield { row: parse(text, `${file}:${line}`), line };
    }
    options.signal?.throwIfAborted();
  } finally {
    input.destroy();
  }
}
