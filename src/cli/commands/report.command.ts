import { fstatSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { categoricalNames, type DataRecord, Detector, explain, initBackend, type Manifest, NceError } from '../../nce';
import { DriftMonitor, driftReferenceOf, flaggedRecord, type FlaggedRecord, RecentTraffic, type TrafficView, type WindowContents } from '../../metrics';
import { CsvError, type CsvTable, describeVersions, fileProblem, FsModelStore, NAME_PATTERN, readCsv } from '../../store';
import { modelConsole, reportHtml } from '../../ui';
import { AppError } from '../../errors';
import { parseFlags, UsageError } from '../args';
import { type CliContext, loadCurrent } from '../context';

/** Records scored per forward pass: bounds memory on large files. */
const CHUNK = 4096;

/** Flagged rows of the file a report explains and shows: its last ones. */
export const REPORT_FLAGGED = 20;

/**
 * `nce-ood report --model NAME [--data FILE.csv] [--values] --out report.html`: the web console's
 * model page for the current version of NAME (registry under MODELS_DIR) as one self-contained
 * HTML file: training, the score distribution and, with `--data`, the file's scores, drift against
 * the training data and its last flagged rows with their top contributions (their values only with
 * `--values`). The file loads nothing: it opens offline.
 */
export async function reportCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['model', 'data', 'out', 'values'], ['model', 'out'], ['values']);
  const name = flags.model as string;
  if (flags.values !== undefined && flags.data === undefined) throw new UsageError('--values lists the values of --data\'s records: give --data too');
  if (flags.data !== undefined && sameFile(flags.data, flags.out as string)) throw new UsageError(`--out ${flags.out as string} is the --data file: the report would overwrite it; name another file`);
  if (!NAME_PATTERN.test(name)) throw new UsageError('--model names a model in the registry (1-64 letters, digits, "_" or "-")');
  const { version, loaded } = await loadCurrent(ctx, name);
  const keepValues = flags.values !== undefined;
  // The file is one window, seen at one instant.
  const now = Date.now();
  let window: WindowContents | null = null;
  let traffic: TrafficView | null = null;
  let rows = 0;
  if (flags.data !== undefined) {
    await initBackend(ctx.backend);
    const table = readCsv(flags.data, categoricalNames(loaded.manifest.schema));
    const missing = loaded.manifest.schema.find((f) => !table.columns.includes(f.name));
    if (missing) throw new CsvError(flags.data, 1, `missing column "${missing.name}" that the model was trained on`);
    rows = table.records.length;
    const drift = new DriftMonitor({ windowRecords: Math.max(1, rows), windowSeconds: 1, topFeatures: 0, minRecords: ctx.driftMinRecords });
    const binned = drift.bin(name, version, driftReferenceOf(loaded.manifest), table.records);
    const seen = scoreFile(flags.data, table, name, version, loaded.manifest, new Detector(loaded.state), keepValues, now);
    drift.add(binned, seen.percentiles, now);
    window = drift.contents(name, now);
    traffic = seen.traffic.view(name, now);
  }
  const data = {
    console: modelConsole({ name, version, manifest: loaded.manifest, window, traffic, minRecords: ctx.driftMinRecords, access: 'open', rawValues: keepValues }),
    versions: await describeVersions(new FsModelStore(ctx.modelsDir), name),
    source: { file: flags.data === undefined ? null : basename(flags.data), rows, createdAt: new Date().toISOString() },
  };
  try {
    writeFileSync(flags.out as string, reportHtml(data));
  } catch (e: unknown) {
    throw new AppError('INVALID_REQUEST', `cannot write ${flags.out as string}: ${fileProblem(e)}`, undefined, { cause: e });
  }
  process.stderr.write(`wrote ${flags.out} (model ${name} version ${version}${flags.data === undefined ? '' : `, ${rows} rows of ${basename(flags.data)}`})\n`);
}

/** Scores a file's records: their percentiles, and its traffic as the console keeps it (scores, counts, last flagged rows explained). */
function scoreFile(file: string, table: CsvTable, name: string, version: string, manifest: Manifest, detector: Detector, keepValues: boolean, now: number): { percentiles: Float64Array; traffic: RecentTraffic } {
  const { records, lines } = table;
  const traffic = new RecentTraffic({ windowRecords: Math.max(1, records.length), windowSeconds: 1, flaggedRecords: REPORT_FLAGGED, keepValues });
  const percentiles = new Float64Array(records.length);
  const scores = new Float64Array(records.length);
  const flagged: number[] = [];
  try {
    for (let start = 0; start < records.length; start += CHUNK) {
      let results;
      try {
        results = detector.score(records.slice(start, start + CHUNK));
      } catch (e: unknown) {
        if (e instanceof NceError && e.record !== undefined) throw new CsvError(file, lines[start + e.record], `column "${e.field}": ${e.message.replace(/^record \d+ /, '')}`);
        throw e;
      }
      results.forEach((r, i) => {
        percentiles[start + i] = r.percentile;
        scores[start + i] = r.score;
        if (r.ood) flagged.push(start + i);
      });
    }
    traffic.observe(name, version, scores, flagged.length, now);
    const last = flagged.slice(-REPORT_FLAGGED);
    const explanations = explain(detector, last.map((i) => records[i] as DataRecord));
    const features = manifest.schema.map((f) => f.name);
    const sample: FlaggedRecord[] = last.map((i, k) => ({
      ...flaggedRecord({ at: new Date(now).toISOString(), version, score: scores[i], percentile: percentiles[i] }, records[i] as DataRecord, explanations[k]?.contributions ?? {}, features, keepValues),
      row: lines[i],
    }));
    traffic.sampled(name, version, sample, 0, now);
  } finally {
    detector.dispose();
  }
  return { percentiles, traffic };
}

/**
 * Whether the report would be written over the file its data is read from (`-`: the file standard
 * input reads, when it is one): the same device and inode, however the paths are spelt (relative,
 * through links). An --out that does not exist yet is no data file.
 */
function sameFile(data: string, out: string): boolean {
  try {
    const target = statSync(out);
    const source = data === '-' ? fstatSync(0) : statSync(data);
    return source.isFile() && source.dev === target.dev && source.ino === target.ino;
  } catch {
    return false;
  }
}
