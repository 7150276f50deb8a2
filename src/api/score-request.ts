/** The score route's request: its schemas, and the records of a JSON body as objects or as columns. */
import { z } from 'zod';
import { canonicalName, type DataRecord, hasOtherForms, NceError } from '../nce';
import { AppError, escapePointer } from '../errors';
import { booleanCategory, fieldInTwoForms, fieldValue, nameInTwoForms, refuseBareArray, requestError, textField } from './validation';

/** The body of `POST /v1/models/{name}/score`. */
export const scoreRequestSchema = z
  .object({
    records: z.array(z.record(z.string(), fieldValue)).min(1),
    explain: z.boolean().optional(),
  })
  .strict();

/** A valid score request. */
export type ScoreRequest = z.infer<typeof scoreRequestSchema>;

/**
 * The columnar body of `POST /v1/models/{name}/score`: one array per field, all of one length, as
 * pandas' `DataFrame.to_dict("list")` gives (`{"columns": {"amount": [...], "channel": [...]}}`).
 */
export const columnarScoreRequestSchema = z
  .object({
    columns: z.record(z.string(), z.array(fieldValue).min(1)),
    explain: z.boolean().optional(),
  })
  .strict();

/** How a score request's records came: as objects, as columns, or as a table (CSV, NDJSON). */
export type Layout = 'records' | 'columns' | 'table';

/** A score request as the route scores it: its records, in whatever layout they came. */
export interface ParsedScoreRequest {
  records: DataRecord[];
  explain?: boolean;
  layout: Layout;
}

/** The records of a columnar request, row by row; the columns must be of one length. */
export function recordsFromColumns(columns: Record<string, (number | string | null)[]>): DataRecord[] {
  const names = Object.keys(columns);
  if (names.length === 0) throw new AppError('INVALID_REQUEST', 'columns: give at least one column', '/columns');
  const n = columns[names[0]].length;
  for (const name of names) {
    const length = columns[name].length;
    if (length !== n) throw new AppError('INVALID_REQUEST', `column "${name}" has ${length} values where "${names[0]}" has ${n}: every column needs one value per record`, `/columns/${escapePointer(name)}`);
  }
  const records: DataRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r: Record<string, number | string | null> = {};
    for (const name of names) r[name] = columns[name][i];
    records[i] = r;
  }
  return records;
}

/** A JSON score body, as records or as columns. */
export function parseJsonScoreRequest(input: unknown): ParsedScoreRequest {
  refuseBareArray(input, ['as columns ({"columns": {...}})']);
  if (input !== null && typeof input === 'object' && 'columns' in input) {
    if ('records' in input) throw new AppError('INVALID_REQUEST', 'body: send the records either as "records" (objects) or as "columns" (arrays), not both', '/records');
    const parsed = columnarScoreRequestSchema.safeParse(input);
    if (!parsed.success) throw requestError(parsed.error.issues, columnarScoreRequestSchema);
    const twice = nameInTwoForms(Object.keys(parsed.data.columns));
    if (twice !== undefined) throw new AppError('INVALID_REQUEST', `the column ${JSON.stringify(canonicalName(twice))} is given twice, its name written in two Unicode forms`, `/columns/${escapePointer(twice)}`);
    return { records: recordsFromColumns(parsed.data.columns), layout: 'columns', ...(parsed.data.explain === undefined ? {} : { explain: parsed.data.explain }) };
  }
  const request = parseScoreRequest(input);
  return { records: request.records as DataRecord[], layout: 'records', ...(request.explain === undefined ? {} : { explain: request.explain }) };
}

/** Per model schema: whether a feature's name has other Unicode forms, found once. */
const readsOtherForms = new WeakMap<readonly { name: string }[], boolean>();

/**
 * Refuses a record that holds a field of the model twice, its name in two Unicode forms (NFC and
 * NFD): the engine would read one copy and pass over the other. Only where a feature's name has
 * other forms (`hasOtherForms`: the names the engine looks up under them), so other models pay
 * nothing per record; tables (CSV, NDJSON) are refused so as they are read.
 */
export function checkOneFormEach(records: readonly DataRecord[], schema: readonly { name: string }[]): void {
  let other = readsOtherForms.get(schema);
  if (other === undefined) readsOtherForms.set(schema, (other = schema.some((f) => hasOtherForms(f.name))));
  if (!other) return;
  records.forEach((r, i) => {
    const twice = nameInTwoForms(Object.keys(r));
    if (twice !== undefined) throw fieldInTwoForms(i, twice);
  });
}

/** A record error of a columnar request, pointed at its column and row (`/columns/amount/3`). */
export function inColumns(e: unknown): unknown {
  if (!(e instanceof NceError) || e.record === undefined || e.field === undefined) return e;
  // Every row lacks it: the column is missing, not one of its rows.
  if (/^record \d+ is missing field/.test(e.message)) return new AppError('INVALID_RECORD', `column "${e.field}" is missing: the model scores it (send one array per feature)`, `/columns/${escapePointer(e.field)}`);
  return new AppError('INVALID_RECORD', `column "${e.field}" row ${e.record}: ${e.message.replace(/^record \d+ field "[^"]*" /, '')}`, `/columns/${escapePointer(e.field)}/${e.record}`);
}

/** The answer to a request of more than `max` records (`pointer`: where they are). */
export function batchTooLarge(n: number, max: number, pointer: string): AppError {
  return new AppError('BATCH_TOO_LARGE', `${n} records in one request; the limit is ${max}`, pointer);
}

/**
 * Validates a score request. The schema is the authority (it also generates the OpenAPI document);
 * a body it would accept is recognised by a direct check first, since running the schema over
 * every field of a large batch costs more than scoring it. The schema only runs to name what is wrong.
 */
export function parseScoreRequest(input: unknown): ScoreRequest {
  const valid = acceptedScoreRequest(input);
  if (valid) return valid;
  const parsed = scoreRequestSchema.safeParse(input);
  // Both forms' keys for what a misspelt one meant.
  if (!parsed.success) throw requestError(parsed.error.issues, { shape: { ...scoreRequestSchema.shape, ...columnarScoreRequestSchema.shape } });
  return parsed.data;
}

/**
 * The body itself when `scoreRequestSchema` accepts it, else null: exactly the bodies the schema
 * accepts (a property test holds the two together). An accepted body is used as it is, where the
 * schema would return a copy, with its booleans spelt "true" and "false" and its blank texts null
 * (see `textField`) in place as the schema has them. The one difference is that a record's `__proto__` key, which the schema drops,
 * stays (the engine reads it like any field).
 */
export function acceptedScoreRequest(input: unknown): ScoreRequest | null {
  if (!isPlainObject(input)) return null;
  for (const key in input) if (key !== 'records' && key !== 'explain') return null;
  const { records, explain } = input as { records?: unknown; explain?: unknown };
  if (explain !== undefined && typeof explain !== 'boolean') return null;
  if (!Array.isArray(records) || records.length === 0) return null;
  for (let i = 0; i < records.length; i++) {
    const r: unknown = records[i];
    if (!isPlainObject(r)) return null;
    for (const key in r) {
      // The schema passes over a "__proto__" key without looking at its value; so does this check.
      if (key === '__proto__') continue;
      const v = (r as Record<string, unknown>)[key];
      if (typeof v === 'boolean') (r as Record<string, unknown>)[key] = booleanCategory(v);
      else if (typeof v === 'string') {
        if (textField(v) === null) (r as Record<string, unknown>)[key] = null;
      } else if (v !== null && !(typeof v === 'number' && Number.isFinite(v))) return null;
    }
  }
  return input as ScoreRequest;
}

function isPlainObject(v: unknown): v is object {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
