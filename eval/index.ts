/** The eval harness: datasets, the arith generator, results store, metrics, reports, runner. */
export * from './dataset.js';
export { BENCHMARKS, benchmark, type Benchmark, type HubFile } from './catalog.js';
export * from './fetch.js';
export * from './arith.js';
export * from './random.js';
export * from './results.js';
export * from './metrics.js';
export * from './summary.js';
export * from './report.js';
export * from './compare.js';
export * from './progress.js';
export * from './runner.js';
export * from './settings.js';
export * from './provenance.js';
export * from './uncertainty.js';
