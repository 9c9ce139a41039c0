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
  for (const key of issue.path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return `field "${issue.path.map(String).join('.')}": ${value === undefined ? 'is missing' : issue.message}`;
}

/**
 * Parse one line of a JSONL file against a schema. Every error starts with `where`
 * (`file:line`) and names the field, so a bad row in a large file is found at once.
 */
export function parseJsonLine<S extends z.ZodType>(line: string, where: string, schema: S, options: JsonLineOptions = {}): z.output<S> {
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
