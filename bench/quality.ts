/**
 * Quality benchmark: runs `nce-ood eval` with the default config on every CSV in the shared
 * datasets folder and prints our AUROC beside the classic detectors' on the same splits, then the
 * means, the acceptance checks, training time and throughput, and the backend's raw matmul speed.
 *
 *   npm run bench:quality [-- --datasets DIR] [--only name1,name2] [--seeds 1,2,3]
 *
 * With --seeds, every dataset is evaluated once per seed (the default config otherwise) and the
 * table shows the mean AUROC with the lowest and highest seed's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  aurocMin: number;
  aurocMax: number;
  fitSeconds: number;
  samplesPerSecond: number;
  backend: string;
}

const root = resolve(__dirname, '..', '..');
const { values } = parseArgs({ options: { datasets: { type: 'string' }, only: { type: 'string' }, seeds: { type: 'string' } } });
const dir = resolve(values.datasets ?? join(root, '..', 'shared', 'datasets'));

function readBaselines(): Baseline[] {
  const file = join(dir, 'baselines.csv');
  if (!existsSync(file)) return [];
  const rows = parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.filter((r) => r.auroc !== '').map((r) => ({ dataset: r.dataset, method: r.method, auroc: Number(r.auroc) }));
}

interface EvalRun {
  auroc: number;
  fitSeconds: number;
  samplesPerSecond: number;
  backend: string;
}

function evalOnce(file: string, configFile?: string): EvalRun {
  const args = [join(root, 'bin', 'nce-ood.js'), 'eval', '--data', file, ...(configFile ? ['--config', configFile] : [])];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`eval ${file} failed: ${run.stderr.trim().split('\n').pop()}`);
  const report = JSON.parse(run.stdout.trim()) as { auroc: number; fitSeconds: number; backend: string };
  const m = /samples_per_second=(\d+)/.exec(run.stderr);
  return { auroc: report.auroc, fitSeconds: report.fitSeconds, samplesPerSecond: m ? Number(m[1]) : NaN, backend: report.backend };
}

/** Evaluates one dataset with the default config, or once per seed. */
function evalDataset(file: string, seeds: number[] | null): Row {
  let runs: EvalRun[];
  if (!seeds) {
    runs = [evalOnce(file)];
  } else {
    const tmp = mkdtempSync(join(tmpdir(), 'nce-bench-'));
    try {
      runs = seeds.map((seed) => {
        const cfg = join(tmp, `seed-${seed}.json`);
        writeFileSync(cfg, JSON.stringify({ seed }));
        return evalOnce(file, cfg);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const avg = (f: (r: EvalRun) => number): number => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  return {
    dataset: file.replace(/^.*\//, '').replace(/\.csv$/, ''),
    auroc: avg((r) => r.auroc),
    aurocMin: Math.min(...runs.map((r) => r.auroc)),
    aurocMax: Math.max(...runs.map((r) => r.auroc)),
    fitSeconds: avg((r) => r.fitSeconds),
    samplesPerSecond: avg((r) => r.samplesPerSecond),
    backend: runs[0].backend,
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
  const seeds = values.seeds ? values.seeds.split(',').map(Number) : null;
  if (seeds && seeds.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--seeds must be non-negative integers, got ${values.seeds}`);
  for (const f of files) {
    process.stderr.write(`eval ${f} ...\n`);
    rows.push(evalDataset(join(dir, f), seeds));
  }
  if (seeds) console.log(`seeds ${seeds.join(',')}: AUROC is the mean over seeds, [lowest, highest] beside it`);
  const find = (d: string, m: string): number => baselines.find((b) => b.dataset === d && b.method === m)?.auroc ?? NaN;
  const best = (d: string): Baseline | undefined => baselines.filter((b) => b.dataset === d).sort((a, b) => b.auroc - a.auroc)[0];

  console.log(`${pad('dataset', 13)}${pad('nce-ood', seeds ? 23 : 9)}${pad('best baseline', 22)}${pad('IForest', 9)}${pad('GMM', 9)}${pad('vs IForest', 12)}${pad('fit s', 8)}samples/s`);
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
    const spread = seeds ? ` [${f3(r.aurocMin)},${f3(r.aurocMax)}]` : '';
    console.log(
      `${pad(r.dataset, 13)}${pad(f3(r.auroc) + spread, seeds ? 23 : 9)}${pad(bestText, 22)}${pad(f3(iforest), 9)}${pad(f3(gmm), 9)}${pad((gap >= 0 ? '+' : '') + gap.toFixed(3), 12)}${pad(r.fitSeconds.toFixed(1), 8)}${Math.round(r.samplesPerSecond)}`,
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
