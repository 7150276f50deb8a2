/** The benchmark suites beside the project, as the benchmark scripts find them. */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';

/** The project's root (the scripts run from dist/bench). */
export const ROOT = resolve(__dirname, '..', '..');

const shared = join(ROOT, '..', 'shared');

/** Suite name -> its folder of CSVs and baselines.csv. */
export const SUITES: Record<string, string> = {
  datasets: join(shared, 'datasets'),
  adbench: join(shared, 'benchmarks', 'adbench'),
  embeddings: join(shared, 'benchmarks', 'embeddings'),
};

/** Adds a suite folder of one's own (CSVs and a baselines.csv), named after the folder; returns the name. */
export function addSuite(dir: string): string {
  const name = basename(resolve(dir));
  SUITES[name] = resolve(dir);
  return name;
}

/** The rows of a suite's baselines.csv: dataset, method, auroc, n_train, features, ... */
export function baselineRows(suite: string): Record<string, string>[] {
  return parse(readFileSync(join(SUITES[suite], 'baselines.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
}
