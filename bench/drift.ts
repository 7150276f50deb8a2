/**
 * Drift and calibration benchmark: how the monitoring reads real data. For every dataset of the
 * suites it trains the default model on the train split, then:
 *
 * - false alarms: scores the test normals in windows of up to --window records and prints the
 *   score PSI (and KS) of each window against the model's reference, as the service's drift
 *   gauges compute them;
 * - power: shifts the two numeric features with the largest standard deviation by 1, 2 and 3 of
 *   their standard deviations in the first window, and prints the score PSI and whether both
 *   features are among the 3 most drifted features;
 * - calibration: the `ood` threshold's false-positive rate on the test normals (it was set for
 *   `targetFpr`) and its recall on the test anomalies; and the false-positive rate had the
 *   training config stated the train split's anomaly share as `contamination` (the same model,
 *   calibrated again on its held-out scores).
 *
 *   npm run bench:drift [-- --suite datasets,adbench] [--suite-dir DIR] [--only a,b] [--window 1000] [--config cfg.json] [--out DIR] [--check]
 *
 * --suite-dir DIR: a suite folder of one's own (CSVs with a split column and a baselines.csv, as
 * the shared ones), named after the folder and run after --suite (alone with --suite ''). --config: a training config file (JSON) in place of the default. It writes drift.md and drift.csv
 * to --out (default bench/results). --check exits non-zero unless
 * the targets hold: PSI below 0.1 in 95% of windows of 500+ records; a 3-sd shift seen (PSI above
 * 0.25, both features in the top 3) on 90% of datasets; FPR within [0.005, 0.03] on every dataset
 * whose anomaly rate is below 5% and on 75% of all.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DriftMonitor, scoreKs, scorePsi } from '../src/metrics';
import { calibrate, type DataRecord, Detector, initBackend, PERCENTILE_BINS, percentileBin, train } from '../src/nce';
import { createRng, permutation } from '../src/nce/random';
import { readCsv } from '../src/store';
import { addSuite, baselineRows, ROOT as root, SUITES } from './suites';

const SHIFTS = [1, 2, 3];
/** Windows this large or larger count for the false-alarm check. */
const JUDGED_WINDOW = 500;

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'datasets,adbench' },
    'suite-dir': { type: 'string', multiple: true },
    only: { type: 'string' },
    window: { type: 'string', default: '1000' },
    out: { type: 'string', default: join(root, 'bench', 'results') },
    seed: { type: 'string', default: '1' },
    config: { type: 'string' },
    check: { type: 'boolean', default: false },
  },
});

/** Training config fields in place of the defaults (--config). */
const config = (values.config ? JSON.parse(readFileSync(values.config, 'utf8')) : {}) as Record<string, unknown>;

interface Row {
  suite: string;
  dataset: string;
  anomalyRate: number;
  windows: { size: number; psi: number; ks: number }[];
  shifts: { sds: number; psi: number; topFeatures: boolean }[];
  fpr: number;
  recall: number;
  /** Train split's anomaly share. */
  trainAnomalyRate: number;
  /** FPR on the test normals with that share stated as `contamination`. */
  statedFpr: number;
  targetFpr: number;
}

function datasetsOf(suite: string): string[] {
  return [...new Set(baselineRows(suite).map((r) => r.dataset))].sort().map((d) => join(SUITES[suite], `${d}.csv`));
}

function percentileShares(percentiles: ArrayLike<number>): number[] {
  const shares = new Array<number>(PERCENTILE_BINS).fill(0);
  for (let i = 0; i < percentiles.length; i++) shares[percentileBin(percentiles[i] as number)] += 1 / percentiles.length;
  return shares;
}

async function runDataset(suite: string, file: string, windowSize: number, seed: number): Promise<Row> {
  const table = readCsv(file);
  const features = table.columns.filter((c) => c !== 'label' && c !== 'split');
  const strip = (r: DataRecord): DataRecord => Object.fromEntries(features.map((c) => [c, r[c]]));
  const trainRows = table.records.filter((r) => r.split === 'train').map(strip);
  const test = table.records.filter((r) => r.split === 'test');
  const normals = test.filter((r) => r.label === 0).map(strip);
  const anomalies = test.filter((r) => r.label === 1).map(strip);
  const trainAnomalyRate = table.records.filter((r) => r.split === 'train' && r.label === 1).length / Math.max(1, trainRows.length);
  const result = await train(trainRows, { ...config, seed }, { columns: features });
  const detector = new Detector(result.state);
  const refs = result.reference ?? [];
  const shares = result.state.calibration.referenceShares;
  const referenceCount = result.state.calibration.referenceCount;
  try {
    const order = permutation(normals.length, createRng(seed));
    const shuffled = Array.from(order, (i) => normals[i] as DataRecord);
    const windows: Row['windows'] = [];
    for (let start = 0; start < shuffled.length; start += windowSize) {
      const w = shuffled.slice(start, start + windowSize);
      const p = detector.scoreRows(detector.encodeRecords(w)).percentile;
      const s = percentileShares(p);
      windows.push({ size: w.length, psi: scorePsi(shares, s, { reference: referenceCount, window: w.length }), ks: scoreKs(shares, s) });
    }
    // The two numeric features of largest standard deviation on the training data.
    const numeric = result.state.schema.filter((f) => f.kind === 'numeric').map((f) => f.name);
    const sd = (name: string): number => {
      const xs = trainRows.map((r) => r[name]).filter((v): v is number => typeof v === 'number');
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
    };
    const spread = numeric.map((name) => ({ name, sd: sd(name) })).sort((a, b) => b.sd - a.sd).slice(0, 2);
    const first = shuffled.slice(0, windowSize);
    const shifts: Row['shifts'] = [];
    for (const k of SHIFTS) {
      const shifted = new Map(spread.map((f) => [f.name, k * f.sd]));
      const moved = first.map((r): DataRecord =>
        Object.fromEntries(Object.entries(r).map(([name, v]) => [name, typeof v === 'number' && shifted.has(name) ? v + (shifted.get(name) as number) : v])),
      );
      const monitor = new DriftMonitor({ windowRecords: moved.length, windowSeconds: 3600, topFeatures: 3, minRecords: 1 });
      const binned = monitor.bin('m', 'v', { features: refs, featureRecords: trainRows.length, scoreShares: shares, scoreRecords: referenceCount }, moved);
      monitor.add(binned, detector.scoreRows(detector.encodeRecords(moved)).percentile, 0);
      const stats = monitor.stats('m', 0);
      const top = new Set(stats?.features.map((f) => f.feature));
      shifts.push({ sds: k, psi: stats?.psi ?? NaN, topFeatures: spread.length === 2 && spread.every((f) => top.has(f.name)) });
    }
    const flaggedShare = (rows: DataRecord[], d: Detector = detector): number => (rows.length === 0 ? NaN : d.scoreRows(d.encodeRecords(rows)).flagged / rows.length);
    const stated = new Detector({ ...result.state, calibration: calibrate(result.heldOutScores ?? [], result.state.calibration.targetFpr, trainAnomalyRate) });
    let statedFpr: number;
    try {
      statedFpr = flaggedShare(normals, stated);
    } finally {
      stated.dispose();
    }
    return {
      suite,
      dataset: file.replace(/^.*\//, '').replace(/\.csv$/, ''),
      anomalyRate: anomalies.length / Math.max(1, test.length),
      windows,
      shifts,
      fpr: flaggedShare(normals),
      recall: flaggedShare(anomalies),
      trainAnomalyRate,
      statedFpr,
      targetFpr: result.state.calibration.targetFpr,
    };
  } finally {
    detector.dispose();
  }
}

const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '-');

async function main(): Promise<void> {
  await initBackend();
  const windowSize = Number(values.window);
  const seed = Number(values.seed);
  const only = values.only ? new Set(values.only.split(',')) : null;
  const rows: Row[] = [];
  const extra = (values['suite-dir'] ?? []).map(addSuite);
  for (const suite of [...values.suite.split(',').filter((x) => x !== ''), ...extra]) {
    if (!SUITES[suite]) throw new Error(`--suite: unknown suite "${suite}"`);
    for (const file of datasetsOf(suite)) {
      const name = file.replace(/^.*\//, '').replace(/\.csv$/, '');
      if (only && !only.has(name)) continue;
      const row = await runDataset(suite, file, windowSize, seed);
      rows.push(row);
      const worst = Math.max(...row.windows.map((w) => w.psi));
      process.stderr.write(`${suite}/${name}: worst window PSI ${f3(worst)}, 3-sd shift PSI ${f3(row.shifts[2]?.psi ?? NaN)}, FPR ${f3(row.fpr)}, recall ${f3(row.recall)}\n`);
    }
  }

  const judged = rows.flatMap((r) => r.windows.filter((w) => w.size >= JUDGED_WINDOW));
  const quiet = judged.filter((w) => w.psi < 0.1).length;
  const powered = rows.filter((r) => r.shifts.some((s) => s.sds === 3 && s.psi > 0.25 && s.topFeatures)).length;
  const lowRate = rows.filter((r) => r.anomalyRate < 0.05);
  const inBand = (r: Row): boolean => r.fpr >= 0.005 && r.fpr <= 0.03;
  const lines: string[] = [];
  lines.push(`Default model per dataset (seed ${seed}), test normals in windows of up to ${windowSize} records; targetFpr ${rows[0]?.targetFpr ?? ''}.`);
  lines.push('');
  lines.push(`| suite | dataset | anomaly rate | windows | score PSI per window (max) | KS (max) | ${SHIFTS.map((k) => `${k}-sd shift PSI (both in top 3)`).join(' | ')} | FPR on normals | recall on anomalies | FPR, contamination stated |`);
  lines.push(`|---|---|---|---|---|---|${SHIFTS.map(() => '---').join('|')}|---|---|---|`);
  for (const r of rows) {
    lines.push(
      `| ${r.suite} | ${r.dataset} | ${f3(r.anomalyRate)} | ${r.windows.length} | ${f3(Math.max(...r.windows.map((w) => w.psi)))} | ${f3(Math.max(...r.windows.map((w) => w.ks)))} | ${r.shifts.map((s) => `${f3(s.psi)} (${s.topFeatures ? 'yes' : 'no'})`).join(' | ')} | ${f3(r.fpr)} | ${f3(r.recall)} | ${f3(r.statedFpr)} (${f3(r.trainAnomalyRate)}) |`,
    );
  }
  lines.push('');
  lines.push(`- False alarms: score PSI below 0.1 in ${quiet} of ${judged.length} windows of ${JUDGED_WINDOW}+ records (${((100 * quiet) / Math.max(1, judged.length)).toFixed(1)}%).`);
  lines.push(`- Power: a 3-sd shift of two features gives PSI above 0.25 with both in the top 3 on ${powered} of ${rows.length} datasets (${((100 * powered) / Math.max(1, rows.length)).toFixed(0)}%).`);
  lines.push(
    `- Calibration: FPR within [0.005, 0.03] on ${lowRate.filter(inBand).length} of ${lowRate.length} datasets with an anomaly rate below 5%, and on ${rows.filter(inBand).length} of ${rows.length} in all.`,
  );
  const statedInBand = (r: Row): boolean => r.statedFpr >= 0.005 && r.statedFpr <= 0.03;
  lines.push(
    `- With the train split's anomaly share stated as \`contamination\` (in brackets): FPR within [0.005, 0.03] on ${lowRate.filter(statedInBand).length} of ${lowRate.length} and ${rows.filter(statedInBand).length} of ${rows.length}.`,
  );
  const md = lines.join('\n');
  console.log(md);
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'drift.md'), md + '\n');
  const csv = [
    ['suite', 'dataset', 'anomaly_rate', 'windows', 'max_window_psi', 'max_window_ks', ...SHIFTS.flatMap((k) => [`shift${k}_psi`, `shift${k}_top3`]), 'fpr', 'recall', 'train_anomaly_rate', 'stated_fpr'].join(','),
    ...rows.map((r) =>
      [r.suite, r.dataset, r.anomalyRate.toFixed(4), r.windows.length, Math.max(...r.windows.map((w) => w.psi)).toFixed(4), Math.max(...r.windows.map((w) => w.ks)).toFixed(4), ...r.shifts.flatMap((s) => [s.psi.toFixed(4), s.topFeatures]), r.fpr.toFixed(4), r.recall.toFixed(4), r.trainAnomalyRate.toFixed(4), r.statedFpr.toFixed(4)].join(','),
    ),
  ].join('\n');
  writeFileSync(join(out, 'drift.csv'), csv + '\n');
  console.log(`\nwrote ${relative(process.cwd(), join(out, 'drift.md'))} and drift.csv`);
  if (values.check) {
    const failed = [
      quiet < 0.95 * judged.length && 'false alarms',
      powered < 0.9 * rows.length && 'power',
      (lowRate.some((r) => !inBand(r)) || rows.filter(inBand).length < 0.75 * rows.length) && 'calibration',
    ].filter(Boolean);
    if (failed.length > 0) {
      console.error(`targets missed: ${failed.join(', ')}`);
      process.exitCode = 1;
    } else console.log('targets hold');
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 1;
});
