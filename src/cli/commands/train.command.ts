import { type DataRecord, fingerprintRecords, initBackend, NceError, toArtifact, train } from '../../nce';
import { currentVersionOf, refusedAgain, sameTraining, storeVersion, trainedOn } from '../../queue';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AppError } from '../../errors';
import { checkMixedColumns, CsvError, fileProblem, FsModelStore, readCsv, saveArtifact, withCategories } from '../../store';
import { columnList, DEFAULT_EXCLUDED, excludedColumns, modelOrArtifact, parseFlags, UsageError } from '../args';
import { readTrainingConfig } from '../config-file';
import { reportEpoch, reportTraining } from '../progress';
import type { CliContext } from '../context';

/**
 * A note when the default exclusions leave out a split column whose rows are not all train rows:
 * `train` trains on every row (an outside probe trained on an `eval` file's test rows and labelled
 * anomalies without a word), where `eval` would train on the train rows only.
 */
function splitNote(rows: readonly DataRecord[], byDefault: readonly string[]): string | null {
  if (!byDefault.includes('split')) return null;
  const other = rows.filter((r) => r.split !== 'train');
  if (other.length === 0) return null;
  const anomalies = byDefault.includes('label') ? other.filter((r) => r.label === 1 || r.label === '1').length : 0;
  return `note: every row is trained on, ${other.length} of them not marked train in the split column${anomalies > 0 ? ` (${anomalies} of those labelled 1)` : ''}; \`nce-ood eval\` trains on the train rows and scores the test rows, or filter the file first`;
}

/**
 * `nce-ood train --data FILE.csv (--model NAME [--force] [--allow-schema-change] | --artifact DIR) [--config cfg.json] [--exclude a,b] [--categorical c,d]`:
 * `--model` stores the result as a new version of NAME in the registry under MODELS_DIR, through
 * the same quality gate as the API (a refused version stays a candidate unless `--force`; one whose
 * schema differs from the current version's, unless `--allow-schema-change`, as the API's
 * `allowSchemaChange`), where a
 * running service picks it up; `--artifact` writes it into DIR (`--out` is the older spelling).
 * Columns named by `--exclude` are left out; by default `label` and `split`, when present.
 * Columns named by `--categorical` are categories even where they hold numbers. A column of numbers
 * with a few texts is refused, naming the line, as the API refuses such a dataset.
 */
export async function trainCommand(argv: string[], ctx: CliContext): Promise<void | number> {
  const flags = parseFlags(argv, ['data', 'model', 'artifact', 'out', 'config', 'exclude', 'categorical', 'force', 'allow-schema-change'], ['data'], ['force', 'allow-schema-change']);
  if (flags.out !== undefined && flags.artifact !== undefined) throw new UsageError('--out is the older spelling of --artifact: give one');
  const target = modelOrArtifact({ model: flags.model, artifact: flags.artifact ?? flags.out });
  if (flags.force !== undefined && !('model' in target)) throw new UsageError('--force applies to --model (the registry), not to an artifact folder');
  if (flags['allow-schema-change'] !== undefined && !('model' in target)) throw new UsageError('--allow-schema-change applies to --model (the registry), not to an artifact folder');
  const allowSchemaChange = flags['allow-schema-change'] !== undefined ? { allowSchemaChange: true } : {};
  const config = readTrainingConfig(flags.config);
  // Declared categorical: their fields stay as written ("02134", "2.10"), not read as numbers.
  const categorical = columnList(flags.categorical ?? '');
  const table = readCsv(flags.data as string, categorical);
  // Named with --exclude, each must be a column; the default ones are left out where present.
  const asked = excludedColumns(flags.exclude);
  const unknown = flags.exclude === undefined ? undefined : asked.find((c) => !table.columns.includes(c));
  if (unknown !== undefined) throw new UsageError(`--exclude names "${unknown}", which is not a column of ${flags.data as string}`);
  // --exclude joins the config's own `exclude`: the model's config then says what was left out,
  // and a retrain of it (a schedule, the API) leaves out the same.
  const excluded = [...new Set([...config.exclude, ...asked.filter((c) => table.columns.includes(c))])];
  const columns = table.columns.filter((c) => !excluded.includes(c));
  if (columns.length === 0) throw new UsageError(`no feature columns left in ${flags.data as string} after --exclude`);
  const undeclared = categorical.find((c) => !columns.includes(c));
  if (undeclared !== undefined) throw new UsageError(`--categorical names "${undeclared}", which is not a feature column of ${flags.data as string}`);
  const records = checked(withCategories(table.records, categorical), columns, table.lines, flags.data as string);
  // Before training, not after it: a file where the folder goes would waste the whole run.
  if ('artifact' in target) writableFolder(target.artifact, flags.artifact === undefined ? '--out' : '--artifact');
  else writableFolder(ctx.modelsDir, 'MODELS_DIR');
  const backend = await initBackend(ctx.backend);
  // The hint names what it can change: the default exclusions, not the config's own.
  const byDefault = flags.exclude === undefined ? excluded.filter((c) => !config.exclude.includes(c)) : [];
  const left = excluded.length > 0 ? ` (left out: ${excluded.join(', ')}${byDefault.length > 0 ? `; --exclude "" keeps ${byDefault.join(', ')}` : ''})` : '';
  // --exclude replaces the default exclusions: a label or split column it does not name is a feature now, said so.
  // Not when --exclude "" asked to keep them.
  const kept = asked.length === 0 ? [] : DEFAULT_EXCLUDED.filter((c) => columns.includes(c));
  const keptNote = kept.length > 0 ? ` (${kept.join(' and ')} ${kept.length === 1 ? 'is a feature' : 'are features'}: --exclude replaces the default ${DEFAULT_EXCLUDED.join(',')}; name ${kept.length === 1 ? 'it' : 'them'} too to leave ${kept.length === 1 ? 'it' : 'them'} out)` : '';
  // Over the file's columns, as a training job fingerprints its dataset's: the same file and
  // config trained through the API and here are the same training.
  const fingerprint = fingerprintRecords(records, table.columns);
  const trainingConfig = { ...config, exclude: excluded };
  const models = new FsModelStore(ctx.modelsDir);
  if ('model' in target) {
    const before = await currentVersionOf(models, target.model);
    if (before && trainedOn(before.manifest, fingerprint, trainingConfig)) return unchanged(target.model, before.version, ctx.modelsDir);
    const again = flags.force === undefined ? await refusedAgain(models, target.model, fingerprint, trainingConfig, ctx.gate, { current: before, ...allowSchemaChange }) : null;
    if (again) {
      process.stderr.write(`model ${target.model} version ${again.version} in ${ctx.modelsDir} was trained on the same records with the same config and stays a candidate, not current: ${inCliWords(again.reason)} (--force promotes a new training anyway); nothing saved\n`);
      return EXIT_CANDIDATE;
    }
  }
  const some = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  process.stderr.write(`training on ${some(records.length, 'record')}, ${some(columns.length, 'feature')}${left}${keptNote}, backend ${backend}\n`);
  const split = splitNote(table.records, byDefault);
  if (split) process.stderr.write(`${split}\n`);
  const result = await train(records, trainingConfig, { columns: table.columns, onEpoch: reportEpoch });
  const artifact = toArtifact(result, { datasetFingerprint: fingerprint, datasetRows: records.length, backend });
  reportTraining(result.training);
  const threshold = `ood threshold ${result.state.calibration.threshold.toFixed(3)}`;
  if ('artifact' in target) {
    // A model already there is replaced, as an output file is; said, since it cannot be undone.
    const replaced = existsSync(join(target.artifact, 'manifest.json'));
    await written(target.artifact, () => saveArtifact(target.artifact, artifact));
    process.stderr.write(`saved ${target.artifact} (${threshold})${replaced ? ', replacing the model that was there' : ''}\n`);
    return;
  }
  // Read again: another process may have saved a version while this one trained.
  const current = await currentVersionOf(models, target.model);
  if (current && sameTraining(current.manifest, artifact.manifest)) return unchanged(target.model, current.version, ctx.modelsDir);
  const stored = await written(ctx.modelsDir, () => storeVersion(models, target.model, artifact, { gate: ctx.gate, force: flags.force !== undefined, keepVersions: ctx.keepVersions, current, ...allowSchemaChange }));
  const where = `model ${target.model} version ${stored.version} in ${ctx.modelsDir}`;
  if (stored.promoted) {
    process.stderr.write(`saved ${where}, now current (${threshold})\n`);
    return;
  }
  process.stderr.write(`saved ${where} as a candidate, not current: ${inCliWords(stored.reason)} (--force promotes it anyway)\n`);
  // Not an error, but not what a pipeline that trains and then serves expects: the version served is unchanged.
  return EXIT_CANDIDATE;
}

/** As a training job does: the same records and config as the current version's save nothing. */
function unchanged(model: string, version: string, modelsDir: string): void {
  process.stderr.write(`model ${model} version ${version} in ${modelsDir} was trained on the same records with the same config and stays current: nothing saved\n`);
}

/** A quality gate's reason as the command line takes its advice: the API's `allowSchemaChange` is `--allow-schema-change` here. */
function inCliWords(reason: string | undefined): string {
  return (reason ?? '').replace('train with "allowSchemaChange": true', 'train with --allow-schema-change');
}

/** The exit code of `train --model` when the quality gate kept the new version as a candidate. */
export const EXIT_CANDIDATE = 3;

/**
 * The records, once the data contract the API holds datasets to accepts them: a column of numbers
 * with a few texts ("n/a") would otherwise train as categorical, and the model would read the
 * column's numbers as unrelated labels.
 * @throws CsvError naming the file, the line and the field
 */
function checked(records: DataRecord[], columns: readonly string[], lines: readonly number[], file: string): DataRecord[] {
  try {
    checkMixedColumns(columns, records, { declare: (c) => `pass --categorical ${c}`, outcome: 'Nothing was trained.' });
  } catch (e: unknown) {
    if (!(e instanceof NceError) || e.record === undefined) throw e;
    throw new CsvError(file, lines[e.record] ?? 0, e.message);
  }
  return records;
}

/**
 * Refuses, naming it, a folder to write into that cannot be one: a file stands at it or above it,
 * or the nearest folder that exists on its path cannot be written in.
 * @throws UsageError naming the flag, the path and the reason
 */
function writableFolder(path: string, flag: string): void {
  let at = resolve(path);
  for (;;) {
    let isFolder: boolean;
    try {
      isFolder = statSync(at).isDirectory();
    } catch (e: unknown) {
      const parent = dirname(at);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && parent !== at) {
        at = parent;
        continue;
      }
      throw new UsageError(`${flag} ${path}: ${fileProblem(e)}`);
    }
    if (!isFolder) throw new UsageError(`${flag} ${path}: ${at === resolve(path) ? 'it is a file, not a folder' : `${at} is a file, not a folder`}`);
    // A folder made and removed, not a permission check: root passes every permission check,
    // yet cannot make a folder in /proc or on a read-only mount, which training would find only
    // at its end.
    let made: string;
    try {
      made = mkdtempSync(join(at, '.nce-ood-check-'));
    } catch (e: unknown) {
      throw new UsageError(`${flag} ${path}: cannot write in ${at} (${fileProblem(e)})`);
    }
    rmSync(made, { recursive: true, force: true });
    return;
  }
}

/** What `save` returns; a failure of the file system (ENOSPC, EACCES ...) as one line naming `path`. */
async function written<T>(path: string, save: () => Promise<T>): Promise<T> {
  try {
    return await save();
  } catch (e: unknown) {
    // Only a raw errno: the store's own errors (STORAGE_FULL ...) already say what happened.
    if (e instanceof AppError || e instanceof NceError || !/^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code))) throw e;
    throw new AppError('STORE_UNAVAILABLE', `cannot write into ${path}: ${fileProblem(e)}; the model was trained but not saved`, undefined, { cause: e });
  }
}
