import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { categoricalNames, type DataRecord, Detector, type FieldValue, initBackend, type ModelState, NceError } from '../../nce';
import { CSV_HEADER, csvRows } from '../../serving';
import { CsvError, type CsvTable, loadArtifact, readCsv, typeField } from '../../store';
import { columnList, modelOrArtifact, parseFlags, UsageError } from '../args';
import { type CliContext, loadCurrent } from '../context';

/** Records scored per forward pass: bounds memory on large files. */
const CHUNK = 4096;

/**
 * `nce-ood score (--model NAME | --artifact DIR) --data FILE.csv [--keep all|COL,...]`: CSV of
 * results on stdout, one row per input row in input order, after the input columns `--keep` names
 * (`all`: every input column), the results written as the API's CSV answers write them (numbers
 * to six decimal places). `--model` scores with the current version of NAME in the registry under
 * MODELS_DIR; `--artifact` with the model in DIR.
 */
export async function scoreCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['model', 'artifact', 'data', 'keep'], ['data']);
  const target = modelOrArtifact(flags);
  const file = flags.data as string;
  const backend = await initBackend(ctx.backend);
  const { state, label } = await modelToScore(target, ctx);
  // The model's categorical fields as written ("02134"), as the API takes them; with --keep every
  // field as written, echoed so (ids of 17 digits, "000123", "1e3"), and the rest typed to score.
  const categorical = categoricalNames(state.schema);
  const table = readCsv(file, flags.keep === undefined ? categorical : 'all');
  const kept = keptColumns(flags.keep, table);
  const records = flags.keep === undefined ? table.records : table.records.map((r) => typedExcept(r, categorical));
  const missing = state.schema.find((f) => !table.columns.includes(f.name));
  if (missing) throw new CsvError(file, 1, `missing column "${missing.name}" that the model was trained on`);
  const detector = new Detector(state);
  try {
    const out: string[] = [[...kept.map(csvField), CSV_HEADER].join(',')];
    for (let start = 0; start < table.records.length; start += CHUNK) {
      let scored: string[];
      try {
        scored = csvRows(detector.scoreRows(detector.encodeRecords(records.slice(start, start + CHUNK))));
      } catch (e: unknown) {
        if (e instanceof NceError && e.record !== undefined) {
          throw new CsvError(file, table.lines[start + e.record], `column "${e.field}": ${e.message.replace(/^record \d+ /, '')}`);
        }
        throw e;
      }
      scored.forEach((row, i) => {
        const record = table.records[start + i];
        out.push([...kept.map((c) => csvField(record?.[c] ?? '')), row].join(','));
      });
    }
    process.stdout.write(out.join('\n') + '\n');
    process.stderr.write(`scored ${table.records.length} ${table.records.length === 1 ? 'record' : 'records'} with ${label}, backend ${backend}\n`);
  } finally {
    detector.dispose();
  }
}

/** The model's state and how to name it: the current version of a registry model, or a folder's artifact. */
async function modelToScore(target: { model: string } | { artifact: string }, ctx: CliContext): Promise<{ state: ModelState; label: string }> {
  if ('artifact' in target) {
    const dir = target.artifact;
    try {
      return { state: (await loadArtifact(dir)).state, label: dir };
    } catch (e: unknown) {
      // A registry's model folder (its versions, and CURRENT naming one) is not itself an artifact.
      if (e instanceof NceError && e.code === 'ARTIFACT_INVALID' && existsSync(join(dir, 'CURRENT'))) {
        throw new NceError('ARTIFACT_INVALID', `${dir} is a model folder of a registry, not one version: score its current version with MODELS_DIR=${dirname(resolve(dir))} and --model ${basename(resolve(dir))}, or one version with --artifact ${join(dir, 'VERSION')}`, { cause: e });
      }
      throw e;
    }
  }
  const { version, loaded } = await loadCurrent(ctx, target.model, '; for a model folder, use --artifact DIR');
  return { state: loaded.state, label: `model ${target.model} version ${version}` };
}

/** The input columns `--keep` names, each checked against the file's header. */
function keptColumns(flag: string | undefined, table: CsvTable): string[] {
  if (flag === undefined) return [];
  const names = flag === 'all' ? table.columns : columnList(flag);
  // "--keep ," names no column: said, not taken as a request to keep nothing.
  if (names.length === 0) throw new UsageError(`--keep ${JSON.stringify(flag)} names no column: name the columns to keep (--keep id,amount), or all`);
  const twice = names.find((c, i) => names.indexOf(c) !== i);
  if (twice !== undefined) throw new UsageError(`--keep names "${twice}" twice: name each column once`);
  const unknown = names.find((c) => !table.columns.includes(c));
  if (unknown !== undefined) throw new UsageError(`--keep names "${unknown}", which is not a column of the file`);
  // A kept "score" beside the result's score would make a header that names two columns alike.
  const results = CSV_HEADER.split(',');
  const clash = names.find((c) => results.includes(c));
  if (clash !== undefined) throw new UsageError(`--keep ${flag === 'all' ? 'all keeps' : 'names'} the column "${clash}", which the results have too: rename it in the file, or name the columns to keep without it`);
  return names;
}

/** A record read with every field as text, its fields typed as a CSV's are (see `typeField`) but those of `text`. */
function typedExcept(record: DataRecord, text: readonly string[]): DataRecord {
  const typed: Record<string, FieldValue> = Object.create(null) as Record<string, FieldValue>;
  for (const [name, value] of Object.entries(record)) typed[name] = typeof value === 'string' && !text.includes(name) ? typeField(value) : value;
  return typed;
}

/** One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function csvField(value: unknown): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
