import { z } from 'zod';
import { canonicalName, checkNoiseRecords, checkTrainingCost, featureColumns, heldOutCount, MIN_TRAINING_RECORDS, NceError, nearestKey, resolveTrainingConfig, type TrainingConfig } from '../nce';
import { type DatasetStore, datasetNotFound, NAME_PATTERN } from '../store';
import { AppError, escapePointer } from '../errors';
import { trainingTooLarge } from '../queue';

/**
 * The first of `names` that names the same field as an earlier one, written in another Unicode form
 * ("Größe" typed in NFC and sent from macOS in NFD: see `canonicalName`), or undefined: such a
 * record holds one field twice, and only one copy could be read.
 */
export function nameInTwoForms(names: readonly string[]): string | undefined {
  // Only a name that changes in NFC can meet another there (the Kelvin sign meets a plain K).
  if (names.every((k) => canonicalName(k) === k)) return undefined;
  const seen = new Set<string>();
  for (const k of names) {
    const name = canonicalName(k);
    if (seen.has(name)) return k;
    seen.add(name);
  }
  return undefined;
}

/** The answer to a record holding the field `key` twice, its name in two Unicode forms (see {@link nameInTwoForms}). */
export function fieldInTwoForms(record: number, key: string, pointer = `/records/${record}/${escapePointer(key)}`): AppError {
  return new AppError('INVALID_RECORD', `record ${record} has the field ${JSON.stringify(canonicalName(key))} twice, its name written in two Unicode forms`, pointer);
}

/**
 * A JSON boolean as the category it is: "true" or "false", as the same field of a CSV file reads,
 * so a field sent as booleans and one read from CSV text are one categorical feature.
 */
export function booleanCategory(value: boolean): string {
  return value ? 'true' : 'false';
}

/**
 * A JSON text as the same field of a CSV file reads: one that is empty or only whitespace is a
 * missing value (null), as an empty cell is, not a category of its own. Otherwise a record scored
 * as JSON and as CSV, or uploaded one way and appended the other, would differ there: the one a
 * category never seen (or a value refused by the dataset's contract), the other a missing value.
 */
export function textField(value: string): string | null {
  return value.trim() === '' ? null : value;
}

/** One field of a record as JSON carries it: a number, a string (see {@link textField}), null, or a boolean (see {@link booleanCategory}). */
export const fieldValue = z.union([z.number(), z.string().transform(textField), z.null(), z.boolean().transform(booleanCategory)]);

/**
 * Refuses a JSON body that is a bare array of records, as pandas' to_json(orient="records")
 * writes it, saying how to send them: wrapped as `{"records": [...]}`, in the `others` forms the
 * route also takes, or as NDJSON.
 */
export function refuseBareArray(body: unknown, others: readonly string[] = []): void {
  if (!Array.isArray(body)) return;
  const forms = ['wrapped as {"records": [...]}', ...others, 'one JSON object per line as application/x-ndjson'];
  throw new AppError('INVALID_REQUEST', `the body is a JSON array: send the records ${forms.slice(0, -1).join(', ')}, or ${forms.at(-1)}`);
}

/**
 * The AppError of a request body's zod issues (the first, or an unknown key of the body), pointing at the offending part; an
 * unknown key of the body (`schema`'s) is pointed at and, where one of the keys the body takes is
 * within two edits of it, named as what was likely meant (`"explian"`: did you mean "explain"?).
 */
export function requestError(issues: readonly z.core.$ZodIssue[], schema?: { shape: object }): AppError {
  // A misspelt key of the body is two issues: the key unknown, and the one it meant missing,
  // which zod lists first. The unknown key names both.
  const issue = issues.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0) ?? issues[0]!;
  const path = issue.path.map((p) => String(p));
  const pointer = '/' + path.map(escapePointer).join('/');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const near = path.length === 0 && schema !== undefined ? nearestKey(key, Object.keys(schema.shape)) : null;
    const takes = path.length === 0 && schema !== undefined ? `; the body takes ${Object.keys(schema.shape).join(', ')}` : '';
    return new AppError('INVALID_REQUEST', `${path.length ? path.join('.') + ': ' : ''}unknown field ${JSON.stringify(key)}${near ? ` (did you mean "${near}"?)` : takes}`, `${pointer === '/' ? '' : pointer}/${escapePointer(key)}`);
  }
  if (path[0] === 'records' && path.length >= 3) {
    return new AppError('INVALID_RECORD', `record ${path[1]} field "${path[2]}" must be a ${outOfRange(issue) ? 'finite number (this one is beyond ±1.8e308)' : 'number, a string, a boolean or null'}`, pointer);
  }
  if (path[0] === 'records' && path.length === 2) return new AppError('INVALID_RECORD', `record ${path[1]} must be an object`, pointer);
  if (path[0] === 'columns' && path.length >= 3) {
    return new AppError('INVALID_RECORD', `column "${path[1]}" row ${path[2]} must be a ${outOfRange(issue) ? 'finite number (this one is beyond ±1.8e308)' : 'number, a string, a boolean or null'}`, pointer);
  }
  return new AppError('INVALID_REQUEST', `${path.length ? path.join('.') : 'body'}: ${issue.message}`, pointer === '/' ? '' : pointer);
}

/** The AppError of the first zod issue of a request's query string, naming the parameter. */
export function queryError(issue: z.core.$ZodIssue): AppError {
  if (issue.code === 'unrecognized_keys') {
    return new AppError('INVALID_REQUEST', `unknown query parameter ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`, `/${escapePointer(issue.keys[0] ?? '')}`);
  }
  const name = issue.path.map((p) => String(p))[0] ?? '';
  return new AppError('INVALID_REQUEST', `query parameter ${JSON.stringify(name)}: ${issue.message}`, name === '' ? '' : `/${escapePointer(name)}`);
}

/**
 * Refuses query parameters a route does not take, naming the first: a misspelt one, or a list
 * spelt `name[]=a`, would otherwise be ignored and the request done as if it were absent
 * (`DELETE /v1/models/{name}?version=V` deleting every version). `hint` says what the client likely meant.
 */
export function onlyQuery(query: object, allowed: readonly string[], hint?: string): void {
  onceEach(query);
  const unknown = Object.keys(query).find((k) => !allowed.includes(k));
  if (unknown === undefined) return;
  const takes = allowed.length > 0 ? `this route takes ${allowed.join(', ')}` : 'this route takes none';
  throw new AppError('INVALID_REQUEST', `unknown query parameter ${JSON.stringify(unknown)} (${takes}${hint === undefined ? '' : `: ${hint}`})`, `/${escapePointer(unknown)}`);
}

/** 400 for a query parameter given more than once (`?limit=1&limit=2`): which one counts would be a guess. */
export function onceEach(query: object): void {
  const repeated = Object.entries(query).find(([, v]) => Array.isArray(v));
  if (repeated) throw new AppError('INVALID_REQUEST', `query parameter ${JSON.stringify(repeated[0])} is given ${(repeated[1] as unknown[]).length} times; give it once`, `/${escapePointer(repeated[0])}`);
}

/**
 * A model or dataset name a request creates or writes (also no path traversal): 400 when it could
 * never be one, pointing at `pointer` (the path's name, or the body's field that held it).
 */
export function validName(raw: unknown, what: 'model' | 'dataset', pointer = '/name'): string {
  const name = String(raw);
  if (!NAME_PATTERN.test(name)) throw new AppError('INVALID_REQUEST', `a ${what} name is 1-64 letters, digits, "_" or "-", starting with a letter or digit`, pointer);
  return name;
}

/** A model name a request looks up: one that could never exist is simply not found. */
export function lookupModelName(raw: unknown): string {
  const name = String(raw);
  if (!NAME_PATTERN.test(name)) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
  return name;
}

/** A dataset name a request looks up (a read, a delete, an append, a training's source): 404 when it could never be one, as when it is not there. */
export function lookupDatasetName(raw: unknown, pointer?: string): string {
  const name = String(raw);
  if (!NAME_PATTERN.test(name)) throw datasetNotFound(name, pointer);
  return name;
}

/**
 * Runs `check`; the engine's INVALID_CONFIG it throws is, to the API, a request whose /config part
 * is wrong (a 400 pointing there), and its INSUFFICIENT_DATA a config the dataset is too small for
 * (a 422 pointing there).
 */
function asConfigRequest<T>(check: () => T): T {
  try {
    return check();
  } catch (e: unknown) {
    if (e instanceof NceError && (e.code === 'INVALID_CONFIG' || e.code === 'INSUFFICIENT_DATA')) {
      throw new AppError(e.code === 'INVALID_CONFIG' ? 'INVALID_REQUEST' : e.code, e.message, e.field ? `/config/${e.field.replace(/\./g, '/')}` : '/config');
    }
    throw e;
  }
}

/** Checks a training config with the engine's own schema; a bad key is a 400 pointing into /config. */
export function checkTrainingConfig(config: unknown): TrainingConfig {
  return asConfigRequest(() => resolveTrainingConfig(config ?? {}));
}

/**
 * Refuses at once what a training job would fail on later: a dataset that does not exist (404)
 * or holds fewer records than training needs, or than its config's noise needs to fit (a gmm of
 * more components than the records q is fitted to): 422 INSUFFICIENT_DATA.
 */
export async function checkTrainable(datasets: DatasetStore, dataset: string, config: TrainingConfig, maxValues = Infinity): Promise<void> {
  const info = await datasets.info(dataset);
  if (!info) throw datasetNotFound(dataset, '/dataset');
  const features = asConfigRequest(() => featureColumns(info.columns, config.exclude));
  // One input per feature is the least a record takes (a category takes one per value): a config
  // refused at that width would fail its job.
  asConfigRequest(() => checkTrainingCost(config, info.rows - heldOutCount(info.rows, config.validationSplit), features.length, features.length));
  const tooLarge = trainingTooLarge(dataset, info.rows, features.length, maxValues);
  if (tooLarge) throw new AppError('DATASET_TOO_LARGE', tooLarge, '/dataset');
  if (info.rows < MIN_TRAINING_RECORDS) {
    throw new AppError('INSUFFICIENT_DATA', `dataset "${dataset}" has ${info.rows} records; training needs at least ${MIN_TRAINING_RECORDS}`, '/dataset');
  }
  asConfigRequest(() => checkNoiseRecords(config, info.rows));
}

/** Whether a field was refused for a JSON number too large for a double (1e400 parses as Infinity). */
function outOfRange(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_union' && issue.errors.some((branch) => branch.some((i) => i.code === 'invalid_type' && i.expected === 'number' && 'received' in i && /Infinity/.test(String(i.received))));
}
