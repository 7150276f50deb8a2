import { auprc, auroc, Detector, type DataRecord, encode, featureColumns, inferSchema, initBackend, NceError, train, type TrainingConfig } from '../../nce';
import { columnList, parseFlags, UsageError } from '../args';
import { readTrainingConfig } from '../config-file';
import { CsvError, readCsv, withCategories } from '../../store';
import { reportEpoch, reportTraining } from '../progress';
import type { CliContext } from '../context';

/** What `eval` prints: one JSON line. */
export interface EvalReport {
  /** Of the model's score (minus it, as the anomaly score). */
  auroc: number;
  auprc: number;
  /** AUROC of each NCE quantity of the same model taken alone as the score. */
  aurocOf: { logRatio: number; logDensity: number; logQ: number };
  /**
   * The `ood` flag as deployed: the model's threshold, the share of normal test rows it flags (its
   * false-positive rate, to set beside the `targetFpr` it was calibrated for) and of anomalous ones (recall).
   */
  atThreshold: { threshold: number; targetFpr: number; falsePositiveRate: number; recall: number };
  trainRows: number;
  testRows: number;
  fitSeconds: number;
  scoreRowsPerSecond: number;
  backend: string;
}

/**
 * `nce-ood eval --data FILE.csv [--label-column label] [--split-column split] [--config cfg.json] [--categorical c,d]`:
 * trains on the `train` rows without label and split, scores the `test` rows, prints AUROC and AUPRC
 * with label 1 = anomaly and minus the score as the anomaly score, and the `ood` flag's
 * false-positive rate and recall at the model's threshold. `--categorical` declares columns
 * of codes written as numbers, as `train` does, so that a setup can be measured as it is deployed.
 */
export async function evalCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['data', 'label-column', 'split-column', 'config', 'categorical'], ['data']);
  const file = flags.data as string;
  const labelCol = flags['label-column'] ?? 'label';
  const splitCol = flags['split-column'] ?? 'split';
  const config = readTrainingConfig(flags.config);
  const categorical = columnList(flags.categorical ?? '');
  const read = readCsv(file, categorical);
  for (const c of [labelCol, splitCol]) {
    if (!read.columns.includes(c)) throw new CsvError(file, 1, `missing column "${c}"`);
  }
  const features = read.columns.filter((c) => c !== labelCol && c !== splitCol);
  if (features.length === 0) throw new UsageError(`${file} has no feature columns besides "${labelCol}" and "${splitCol}"`);
  const undeclared = categorical.find((c) => !features.includes(c));
  if (undeclared !== undefined) throw new UsageError(`--categorical names "${undeclared}", which is not a feature column of ${file}`);
  const table = { ...read, records: withCategories(read.records, categorical) };
  const trainRows: DataRecord[] = [];
  const testRows: DataRecord[] = [];
  const testLines: number[] = [];
  const labels: number[] = [];
  table.records.forEach((r, i) => {
    const strip = Object.fromEntries(features.map((c) => [c, r[c]]));
    // Not dropped unseen: a "Train" or an empty cell would shrink either side without a word.
    if (r[splitCol] !== 'train' && r[splitCol] !== 'test') throw new CsvError(file, table.lines[i], `column "${splitCol}" must be train or test, got ${r[splitCol] === null ? 'an empty cell' : `"${String(r[splitCol])}"`}`);
    if (r[splitCol] === 'train') trainRows.push(strip);
    else {
      const label = r[labelCol];
      if (label !== 0 && label !== 1) throw new CsvError(file, table.lines[i], `column "${labelCol}" must be 0 or 1 on a test row, got ${label === null ? 'an empty cell' : `"${String(label)}"`}`);
      testRows.push(strip);
      testLines.push(table.lines[i]);
      labels.push(label);
    }
  });
  if (trainRows.length === 0) throw new CsvError(file, 1, `no rows whose "${splitCol}" is "train": eval trains on those and scores the "test" rows`);
  if (testRows.length === 0) throw new CsvError(file, 1, `no rows whose "${splitCol}" is "test"`);
  if (!labels.includes(0) || !labels.includes(1)) {
    throw new CsvError(file, 1, `every test row has "${labelCol}" ${labels[0]}: AUROC and AUPRC need test rows of both labels (1 = anomaly, 0 = normal)`);
  }

  checkTestRows(file, trainRows, testRows, testLines, features, config);
  const backend = await initBackend(ctx.backend);
  process.stderr.write(`eval ${file}: ${trainRows.length} train rows, ${testRows.length} test rows, backend ${backend}\n`);
  const t0 = process.hrtime.bigint();
  const result = await train(trainRows, config, { columns: features, onEpoch: reportEpoch });
  const fitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  reportTraining(result.training);
  const detector = new Detector(result.state);
  try {
    const t1 = process.hrtime.bigint();
    const results = detector.score(testRows);
    const scoreSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    const scores = results.map((s) => -s.score);
    // logDensity is null where q has no mass: the most anomalous a record can be.
    const flaggedShare = (label: number): number => results.filter((r, i) => labels[i] === label && r.ood).length / labels.filter((l) => l === label).length;
    const aurocOf = (f: (r: (typeof results)[number]) => number | null): number => auroc(results.map((r) => -(f(r) ?? -Infinity)), labels);
    const report: EvalReport = {
      auroc: auroc(scores, labels),
      auprc: auprc(scores, labels),
      aurocOf: {
        logRatio: aurocOf((r) => r.logRatio),
        logDensity: aurocOf((r) => r.logDensity),
        logQ: aurocOf((r) => (r.logDensity === null ? null : r.logDensity - r.logRatio)),
      },
      atThreshold: {
        threshold: result.state.calibration.threshold,
        targetFpr: result.state.calibration.targetFpr,
        falsePositiveRate: flaggedShare(0),
        recall: flaggedShare(1),
      },
      trainRows: trainRows.length,
      testRows: testRows.length,
      fitSeconds,
      scoreRowsPerSecond: testRows.length / Math.max(scoreSeconds, 1e-9),
      backend,
    };
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    detector.dispose();
  }
}

/**
 * Refuses, before the fit, a test row the trained model could not score: text in a column the
 * train rows hold numbers in. Named by its line, as `train` names such rows of its file.
 */
function checkTestRows(file: string, trainRows: DataRecord[], testRows: DataRecord[], testLines: number[], features: string[], config: TrainingConfig): void {
  const schema = inferSchema(trainRows, featureColumns(features, config.exclude), { unseenShare: config.targetFpr });
  try {
    encode(schema, testRows);
  } catch (e: unknown) {
    if (e instanceof NceError && e.record !== undefined) {
      const hint = e.field !== undefined && schema.some((f) => f.name === e.field && f.kind === 'numeric') ? ` (the train rows hold numbers there; if the column is a code, pass --categorical ${e.field})` : '';
      throw new CsvError(file, testLines[e.record], `column "${e.field}": ${e.message.replace(/^record \d+ (field "(?:[^"\\]|\\.)*" )?/, '')}${hint}`);
    }
    throw e;
  }
}
