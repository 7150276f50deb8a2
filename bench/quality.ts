/**
 * Quality benchmark: runs `nce-ood eval` with the default config on every CSV in the shared
 * datasets folder and prints our AUROC beside the classic detectors' on the same splits, then the
 * means, the acceptance checks, training time and throughput, and the backend's raw matmul speed.
 *
 *   npm run bench:quality [-- --datasets DIR] [-- --only name1,name2]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { parse } from 'csv-parse/sync';
import { initBackend } from '../src/nce';

interface Baseline {
  dataset: string;
  method: string;
  auroc: number;
}

interface Row {
  dataset: string;
  auroc: number;
  fitSeconds: number;
  samplesPerSecond: number;
  backend: string;
}

const root = resolve(__dirname, '..', '..');
const { values } = parseArgs({ options: { datasets: { type: 'string' }, only: { type: 'string' } } });
const dir = resolve(values.datasets ?? join(root, '..', 'shared', 'datasets'));

function readBaselines(): Baseline[] {
  const file = join(dir, 'baselines.csv');
  if (!existsSync(file)) return [];
  const rows = parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.filter((r) => r.auroc !== '').map((r) => ({ dataset: r.dataset, method: r.method, auroc: Number(r.auroc) }));
}

function evalDataset(file: string): Row {
  const run = spawnSync(process.execPath, [join(root, 'bin', 'nce-ood.js'), 'eval', '--data', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`eval ${file} failed: ${run.stderr.trim().split('\n').pop()}`);
  const report = JSON.parse(run.stdout.trim()) as { auroc: number; fitSeconds: number; backend: string };
  const m = /samples_per_second=(\d+)/.exec(run.stderr);
  return {
    dataset: file.replace(/^.*\//, '').replace(/\.csv$/, ''),
    auroc: report.auroc,
    fitSeconds: report.fitSeconds,
    samplesPerSecond: m ? Number(m[1]) : NaN,
    backend: report.backend,
  };
}

async function matmulGflops(): Promise<{ backend: string; gflops: number; batchGflops: number }> {
  const backend = await initBackend();
  const time = (m: number, k: number, n: number, reps: number): number => {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    tf.matMul(a, b).dispose();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    a.dispose();
    b.dispose();
    return (2 * m * k * n * reps) / s / 1e9;
  };
  // A large square product (peak) and the trainer's own shape (a 256-row batch through 64 units).
  return { backend, gflops: time(512, 512, 512, 20), batchGflops: time(256, 64, 64, 2000) };
}

const pad = (s: string | number, n: number): string => String(s).padEnd(n);
const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '  -  ');

async function main(): Promise<void> {
  const baselines = readBaselines();
  const only = values.only ? new Set(values.only.split(',')) : null;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.csv') && f !== 'baselines.csv')
    .filter((f) => !only || only.has(f.replace(/\.csv$/, '')))
    .sort();
  const rows: Row[] = [];
  for (const f of files) {
    process.stderr.write(`eval ${f} ...\n`);
    rows.push(evalDataset(join(dir, f)));
  }
  const find = (d: string, m: string): number => baselines.find((b) => b.dataset === d && b.method === m)?.auroc ?? NaN;
  const best = (d: string): Baseline | undefined => baselines.filter((b) => b.dataset === d).sort((a, b) => b.auroc - a.auroc)[0];

  console.log(`${pad('dataset', 13)}${pad('nce-ood', 9)}${pad('best baseline', 22)}${pad('IForest', 9)}${pad('GMM', 9)}${pad('vs IForest', 12)}${pad('fit s', 8)}samples/s`);
  let beatsGmm = 0;
  let worstGap = Infinity;
  for (const r of rows) {
    const b = best(r.dataset);
    const iforest = find(r.dataset, 'IForest');
    const gmm = find(r.dataset, 'GMM');
    if (r.auroc >= gmm) beatsGmm++;
    worstGap = Math.min(worstGap, r.auroc - iforest);
    const bestText = b ? `${f3(b.auroc)} ${b.method}` : '-';
    const gap = r.auroc - iforest;
    console.log(
      `${pad(r.dataset, 13)}${pad(f3(r.auroc), 9)}${pad(bestText, 22)}${pad(f3(iforest), 9)}${pad(f3(gmm), 9)}${pad((gap >= 0 ? '+' : '') + gap.toFixed(3), 12)}${pad(r.fitSeconds.toFixed(1), 8)}${Math.round(r.samplesPerSecond)}`,
    );
  }
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const datasets = rows.map((r) => r.dataset);
  console.log('');
  console.log(`mean AUROC   ${pad("nce-ood", 10)}${f3(mean(rows.map((r) => r.auroc)))}`);
  for (const m of ['IForest', 'Gaussian', 'GMM', 'KNN', 'OCSVM', 'LOF']) {
    const xs = datasets.map((d) => find(d, m)).filter(Number.isFinite);
    if (xs.length) console.log(`             ${pad(m, 10)}${f3(mean(xs))}`);
  }
  console.log('');
  console.log(`at least GMM on ${beatsGmm} of ${rows.length} datasets; worst gap to IForest ${worstGap.toFixed(3)}`);
  console.log(`training seconds: total ${rows.reduce((s, r) => s + r.fitSeconds, 0).toFixed(1)}, slowest ${rows.map((r) => `${r.dataset} ${r.fitSeconds.toFixed(1)}`).sort((a, b) => Number(b.split(' ')[1]) - Number(a.split(' ')[1]))[0]}`);
  const mm = await matmulGflops();
  console.log(`backend ${rows[0]?.backend ?? mm.backend}: matmul ${mm.gflops.toFixed(1)} GFLOP/s (512x512x512), ${mm.batchGflops.toFixed(1)} GFLOP/s (256x64x64); trainer ${Math.round(mean(rows.map((r) => r.samplesPerSecond)))} samples/s mean`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
