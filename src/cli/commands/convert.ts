import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { DIALECT_NAMES } from '../../format/dialect.js';
import { resolveDialect } from '../../format/dialects.js';
import { convertTrajectory, type Conversion } from '../../format/convert.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { ThreadweaverError } from '../../errors.js';

const formatName = z.string().min(1);
const schema = z.object({
  from: formatName.optional(),
  to: formatName.optional(),
  input: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
  field: z.string().min(1).optional(),
  rejects: z.string().min(1).optional(),
  dropPlan: z.boolean().optional(),
});

/** Where a row's trajectory is, in the order looked for when --field is not given. */
const FIELDS = ['messages', 'completion', 'text', 'response', 'output'] as const;

const usage = `Usage: threadweaver convert --from FORMAT --to FORMAT --input FILE.jsonl --out FILE.jsonl [options]

Convert training data from one trajectory format to another (${DIALECT_NAMES.join(', ')}), block by
block where a block maps one to one: plan, threads and reduce step are carried over in the target's
bytes, the text between blocks kept. A row that does not map (nesting for a format without it, no
plan where one is needed, a thread count the target cannot run, a row that fails its own format's
check) is refused with its line and the reason; the other rows are written.

Options:
  --from FORMAT       the rows' format (settings as NAME:key=value, e.g. parallel-r1:paths=3)
  --to FORMAT         the format to write (parallel-r1:paths=N: blocks must have N threads)
  --input FILE        JSONL rows
  --out FILE          the converted rows (same fields, the trajectory replaced)
  --field NAME        the field holding the trajectory (default: the first of ${FIELDS.join(', ')};
                      messages: every assistant message's content)
  --rejects FILE      also write each refused row as {line, reason, row}
  --drop-plan         to parallel-r1: drop the plan entries (outlines), which it has no place for`;

const command: Command = {
  name: 'convert',
  summary: 'convert training data between trajectory formats (multiverse, threadweaver, ...)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        from: { type: 'string' },
        to: { type: 'string' },
        input: { type: 'string' },
        out: { type: 'string' },
        field: { type: 'string' },
        rejects: { type: 'string' },
        'drop-plan': { type: 'boolean' },
      },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    for (const k of ['from', 'to', 'input', 'out'] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
    const [from, to] = (['from', 'to'] as const).map((k) => {
      try {
        return resolveDialect(values[k]);
      } catch (err) {
        throw new UsageError(`--${k}: ${(err as Error).message}`);
      }
    }) as [ReturnType<typeof resolveDialect>, ReturnType<typeof resolveDialect>];
    if (from.name === to.name) throw new UsageError(`--from and --to are both ${from.name}`);
    if (path.resolve(values.input!) === path.resolve(values.out!))
      throw new UsageError('--out must not be the input file');

    const converted: string[] = [];
    const rejected: string[] = [];
    let rows = 0;
    const lines = createInterface({ input: createReadStream(values.input!, 'utf8'), crlfDelay: Infinity });
    try {
      let n = 0;
      for await (const line of lines) {
        n++;
        if (!line.trim()) continue;
        rows++;
        const r = convertRow(line, values.field, (text) =>
          convertTrajectory(text, from, to, { dropPlan: values.dropPlan === true }),
        );
        if ('row' in r) converted.push(JSON.stringify(r.row));
        else {
          process.stderr.write(`${values.input}:${n}: refused: ${r.reason}\n`);
          rejected.push(JSON.stringify({ line: n, reason: r.reason, row: r.raw }));
        }
      }
    } catch (err) {
      throw new ThreadweaverError(`cannot read ${values.input}: ${(err as Error).message}`, { cause: err });
    }
    await mkdir(path.dirname(path.resolve(values.out!)), { recursive: true });
    await writeFile(values.out!, converted.map((l) => l + '\n').join(''));
    if (values.rejects) await writeFile(values.rejects, rejected.map((l) => l + '\n').join(''));
    process.stderr.write(
      `convert ${from.name} → ${to.name}: ${converted.length} of ${rows} rows converted, ${rejected.length} refused → ${values.out}\n`,
    );
    return rows > 0 && converted.length === 0 ? 1 : 0;
  },
};

/** One JSONL row with its trajectory field(s) converted, or why not. */
export function convertRow(
  line: string,
  field: string | undefined,
  convert: (text: string) => Conversion,
): { row: unknown } | { reason: string; raw: unknown } {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (err) {
    return { reason: `not JSON (${(err as Error).message})`, raw: line };
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return { reason: 'not a JSON object', raw: row };
  const obj = row as Record<string, unknown>;
  const key = field ?? FIELDS.find((f) => obj[f] !== undefined);
  if (!key || obj[key] === undefined)
    return { reason: `no trajectory field (${field ?? FIELDS.join(', ')})`, raw: row };
  const value = obj[key];
  if (typeof value === 'string') {
    const c = convert(value);
    return c.ok ? { row: { ...obj, [key]: c.text } } : { reason: `${key}: ${c.reason}`, raw: row };
  }
  if (Array.isArray(value)) {
    const messages: unknown[] = [];
    let assistants = 0;
    for (const [i, m] of value.entries()) {
      const msg = m as { role?: unknown; content?: unknown };
      if (msg?.role !== 'assistant') {
        messages.push(m);
        continue;
      }
      if (typeof msg.content !== 'string')
        return { reason: `${key}[${i}]: the assistant content is not text`, raw: row };
      const c = convert(msg.content);
      if (!c.ok) return { reason: `${key}[${i}]: ${c.reason}`, raw: row };
      messages.push({ ...msg, content: c.text });
      assistants++;
    }
    if (assistants === 0) return { reason: `${key}: no assistant message`, raw: row };
    return { row: { ...obj, [key]: messages } };
  }
  return { reason: `${key} is neither text nor a list of messages`, raw: row };
}

export default command;
