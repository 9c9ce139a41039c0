import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BENCHMARKS, benchmark, type Benchmark } from '../../../eval/catalog.js';
import { dataFolders, defaultCacheDir } from '../../../eval/dataset.js';
import { fetchable, fetchBenchmark, fileUrl, hubEndpoint } from '../../../eval/fetch.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { withSigint } from '../interrupt.js';
import { UsageError, type Command } from '../command.js';

const schema = z.object({
  dataDir: z.string().min(1).optional(),
  mirror: z
    .string()
    .refine((s) => /^https?:\/\/[^/]/.test(s), 'must be an http:// or https:// URL')
    .optional(),
  timeout: intFlag().min(1).optional(),
  json: z.boolean().optional(),
});

const usage = `Usage: threadweaver data list [--data-dir DIR] [--json]
       threadweaver data fetch NAME...|all [--data-dir DIR] [--mirror URL]

The named benchmarks: where each comes from, its licence and row count, and whether it is here.
fetch downloads a benchmark's public files from the Hugging Face hub, converts the rows to
{id, problem, answer, ...}, checks the counts and stores NAME's file in the data folder, where
\`threadweaver eval --dataset NAME\` finds it. Nothing is written when a count is off.

Options:
  --data-dir DIR   where to store (fetch) or look (list); default: the user's cache folder
                   (${defaultCacheDir()}; set $THREADWEAVER_CACHE_DIR to move it)
  --mirror URL     a Hugging Face mirror to download from (default: $HF_ENDPOINT, else
                   https://huggingface.co); the way through a proxy or an air gap
  --timeout MS     per-file download timeout (default 120000)
  --json           list as JSON
Gated repositories read a token from $HF_TOKEN. The benchmark minerva is the file minerva_math.jsonl
(minerva_math is accepted as a name too).`;

/** Where `--dataset NAME` would read this benchmark, and how many rows the file has. */
function located(b: Benchmark, dataDir: string | undefined): { file: string; lines: number } | undefined {
  for (const dir of dataFolders(dataDir)) {
    const file = path.join(dir, b.file);
    if (existsSync(file)) return { file, lines: countLines(file) };
  }
  return undefined;
}

function countLines(file: string): number {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim()).length;
}

function sourceOf(b: Benchmark, endpoint: string): string {
  if (!b.source) return b.origin ?? 'not published';
  const repos = [...new Set(b.source.map((f) => f.repo))];
  return `${repos.map((r) => `${endpoint}/datasets/${r}`).join(', ')} (${b.source.map((f) => `${f.path}${f.revision === 'main' ? '' : ` @ ${f.revision}`}`).join(', ')})`;
}

const command: Command = {
  name: 'data',
  summary: 'list the named benchmarks, or download them from the Hugging Face hub',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub !== 'list' && sub !== 'fetch')
      throw new UsageError(sub ? `unknown data command '${sub}': use list or fetch` : 'give list or fetch');
    const { values, positionals } = parseCommandArgs(
      rest,
      {
        'data-dir': { type: 'string' },
        mirror: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
      schema,
    );
    const endpoint = hubEndpoint(values.mirror);

    if (sub === 'list') {
      if (positionals.length) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const list = BENCHMARKS.map((b) => {
        const here = located(b, values.dataDir);
        return {
          name: b.name,
          file: b.file,
          title: b.title,
          rows: b.rows,
          licence: b.licence,
          source: b.source ? b.source.map((f) => ({ ...f, url: fileUrl(endpoint, f) })) : null,
          mapping: b.mapping ?? null,
          origin: b.origin ?? null,
          local: here ? { file: here.file, rows: here.lines } : null,
        };
      });
      if (values.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        return 0;
      }
      const lines: string[] = [];
      for (const b of BENCHMARKS) {
        const here = list.find((x) => x.name === b.name)!.local;
        const status = here
          ? `here: ${here.file} (${here.rows} rows${here.rows === b.rows ? '' : `, expected ${b.rows}`})`
          : b.source
            ? 'not fetched'
            : 'not here';
        lines.push(`${b.name.padEnd(14)} ${String(b.rows).padStart(5)} rows  ${b.title}`);
        lines.push(`${''.padEnd(14)} source:  ${sourceOf(b, endpoint)}`);
        lines.push(`${''.padEnd(14)} licence: ${b.licence}`);
        lines.push(`${''.padEnd(14)} status:  ${status}`);
      }
      lines.push(
        '',
        `Fetch with \`threadweaver data fetch NAME|all\` (into ${values.dataDir ?? defaultCacheDir()}); arith is generated and needs no file.`,
      );
      process.stdout.write(lines.join('\n') + '\n');
      return 0;
    }

    if (!positionals.length) throw new UsageError('give the benchmarks to fetch (names, or all)');
    const names = positionals.includes('all') ? fetchable().map((b) => b.name) : positionals;
    for (const n of names)
      if (!benchmark(n))
        throw new UsageError(`unknown benchmark '${n}': use ${BENCHMARKS.map((b) => b.name).join(', ')} or all`);
    let failed = 0;
    let fetched = 0;
    // Ctrl-C stops the download in progress; benchmarks already stored stay (each file is written whole).
    return withSigint(async (signal) => {
      for (const n of names) {
        try {
          const r = await fetchBenchmark(n, {
            dataDir: values.dataDir,
            endpoint,
            timeoutMs: values.timeout,
            signal,
            onFile: (e) => process.stderr.write(`${e.benchmark}: ${e.url} (${(e.bytes / 1024).toFixed(0)} KiB)\n`),
          });
          fetched++;
          process.stdout.write(`${r.name}: ${r.rows} rows → ${r.file}\n`);
        } catch (err) {
          if (signal.aborted) {
            process.stderr.write(
              `threadweaver data: interrupted during ${n}: ${fetched} of ${names.length} fetched and kept, nothing half-written; rerun to fetch the rest\n`,
            );
            return 130;
          }
          failed++;
          process.stderr.write(`threadweaver data: ${n}: ${(err as Error).message}\n`);
          if (names.length === 1) return 1;
        }
      }
      if (failed) process.stderr.write(`threadweaver data: ${failed} of ${names.length} failed\n`);
      return failed ? 1 : 0;
    });
  },
};

export default command;
