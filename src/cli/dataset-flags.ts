import { z } from 'zod';
import { loadDataset, type Dataset } from '../../eval/dataset.js';
import { intFlag } from './args.js';
import { UsageError } from './command.js';

/** One dataset, by name or file (rollout, sft stage2). */
export const datasetFlagOptions = {
  dataset: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  limit: { type: 'string' },
} as const;

export const datasetFlagSchema = z.object({
  dataset: z.string().min(1).optional(),
  data: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  limit: intFlag().min(1).optional(),
});

export type DatasetFlags = z.infer<typeof datasetFlagSchema>;

export const datasetFlagUsage = `Dataset options (exactly one of --dataset and --data):
  --dataset NAME           a benchmark (aime24, aime25, amc23, math500, minerva, olympiadbench,
                           gsm8k, arith500; \`threadweaver data fetch NAME\` downloads them) or arith
                           (generated, works anywhere)
  --data FILE.jsonl        a JSONL file of {"id", "problem", "answer"} rows
  --data-dir DIR           folder of the benchmark files (default: $THREADWEAVER_DATA_DIR, else the
                           data fetch cache, then ../shared/benchmarks)
  --limit N                the first N problems`;

export function datasetFromFlags(v: DatasetFlags): Promise<Dataset> {
  if ((v.dataset === undefined) === (v.data === undefined))
    throw new UsageError('give exactly one of --dataset and --data');
  return loadDataset({ name: v.dataset, file: v.data, dataDir: v.dataDir, limit: v.limit });
}
