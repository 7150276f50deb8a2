import { type DataRecord, fingerprintRecords, initBackend, NceError, toArtifact, train } from '../../nce';
import { storeVersion } from '../../queue';
import { contractOf, CsvError, FsModelStore, readCsv, saveArtifact, withCategories } from '../../store';
import { columnList, excludedColumns, modelOrArtifact, parseFlags, UsageError } from '../args';
import { readTrainingConfig } from '../config-file';
import { reportEpoch, reportTraining } from '../progress';
import type { CliContext } from '../context';

/**
 * `nce-ood train --data FILE.csv (--model NAME [--force] | --artifact DIR) [--config cfg.json] [--exclude a,b] [--categorical c,d]`:
 * `--model` stores the result as a new version of NAME in the registry under MODELS_DIR, through
 * the same quality gate as the API (a refused version stays a candidate unless `--force`), where a
 * running service picks it up; `--artifact` writes it into DIR (`--out` is the older spelling).
 * Columns named by `--exclude` are left out; by default `label` and `split`, when present.
 * Columns named by `--categorical` are categories even where they hold numbers. A column of numbers
 * with a few texts is refused, naming the line, as the API refuses such a dataset.
 */
export async function trainCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['data', 'model', 'artifact', 'out', 'config', 'exclude', 'categorical', 'force'], ['data'], ['force']);
  if (flags.out !== undefined && flags.artifact !== undefined) throw new UsageError('--out is the older spelling of --artifact: give one');
  const target = modelOrArtifact({ model: flags.model, artifact: flags.artifact ?? flags.out });
  if (flags.force !== undefined && !('model' in target)) throw new UsageError('--force applies to --model (the registry), not to an artifact folder');
  const config = readTrainingConfig(flags.config);
  const table = readCsv(flags.data as string);
  // Named with --exclude, each must be a column; the default ones are left out where present.
  const asked = excludedColumns(flags.exclude);
  const unknown = flags.exclude === undefined ? undefined : asked.find((c) => !table.columns.includes(c));
  if (unknown !== undefined) throw new UsageError(`--exclude names "${unknown}", which is not a column of ${flags.data as string}`);
  // --exclude joins the config's own `exclude`: the model's config then says what was left out,
  // and a retrain of it (a schedule, the API) leaves out the same.
  const excluded = [...new Set([...config.exclude, ...asked.filter((c) => table.columns.includes(c))])];
  const columns = table.columns.filter((c) => !excluded.includes(c));
  if (columns.length === 0) throw new UsageError(`no feature columns left in ${flags.data as string} after --exclude`);
  const categorical = columnList(flags.categorical ?? '');
  const undeclared = categorical.find((c) => !columns.includes(c));
  if (undeclared !== undefined) throw new UsageError(`--categorical names "${undeclared}", which is not a feature column of ${flags.data as string}`);
  const records = checked(withCategories(table.records, categorical), columns, table.lines, flags.data as string);
  const backend = await initBackend(ctx.backend);
  // The hint names what it can change: the default exclusions, not the config's own.
  const byDefault = flags.exclude === undefined ? excluded.filter((c) => !config.exclude.includes(c)) : [];
  const left = excluded.length > 0 ? ` (left out: ${excluded.join(', ')}${byDefault.length > 0 ? `; --exclude "" keeps ${byDefault.join(', ')}` : ''})` : '';
  process.stderr.write(`training on ${records.length} records, ${columns.length} features${left}, backend ${backend}\n`);
  const result = await train(records, { ...config, exclude: excluded }, { columns: table.columns, onEpoch: reportEpoch });
  const artifact = toArtifact(result, { datasetFingerprint: fingerprintRecords(records, columns), datasetRows: records.length, backend });
  reportTraining(result.training);
  const threshold = `ood threshold ${result.state.calibration.threshold.toFixed(3)}`;
  if ('artifact' in target) {
    await saveArtifact(target.artifact, artifact);
    process.stderr.write(`saved ${target.artifact} (${threshold})\n`);
    return;
  }
  const stored = await storeVersion(new FsModelStore(ctx.modelsDir), target.model, artifact, { gate: ctx.gate, force: flags.force !== undefined, keepVersions: ctx.keepVersions });
  const where = `model ${target.model} version ${stored.version} in ${ctx.modelsDir}`;
  if (stored.promoted) process.stderr.write(`saved ${where}, now current (${threshold})\n`);
  else process.stderr.write(`saved ${where} as a candidate, not current: ${stored.reason} (--force promotes it anyway)\n`);
}

/**
 * The records, once the data contract the API holds datasets to accepts them: a column of numbers
 * with a few texts ("n/a") would otherwise train as categorical, and the model would read the
 * column's numbers as unrelated labels.
 * @throws CsvError naming the file, the line and the field
 */
function checked(records: DataRecord[], columns: readonly string[], lines: readonly number[], file: string): DataRecord[] {
  try {
    contractOf(columns, records, { declare: (c) => `pass --categorical ${c}`, outcome: 'Nothing was trained.' });
  } catch (e: unknown) {
    if (!(e instanceof NceError) || e.record === undefined) throw e;
    throw new CsvError(file, lines[e.record] ?? 0, e.message);
  }
  return records;
}
