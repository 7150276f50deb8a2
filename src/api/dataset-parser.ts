import type { Request } from 'express';
import { z } from 'zod';
import { canonicalName, type DataRecord, type FieldValue, MAX_FEATURES } from '../nce';
import { columnNameProblem, parseCsvStream, utf16Words } from '../store';
import { type BodyLimitSetting, bodyText, charsetOf, isUtf8Charset, TABLE_TYPES } from './request-body';
import { AppError, describe, escapePointer, unescapePointer } from '../errors';
import { fieldInTwoForms, fieldValue, nameInTwoForms, refuseBareArray, requestError } from './validation';
import { repeatedKey, repeatedKeyError } from './json-keys';

/** A JSON dataset upload. */
export const datasetJsonSchema = z.object({ records: z.array(z.record(z.string(), fieldValue)).min(1) }).strict();

/**
 * The records of a dataset upload, from CSV (header row), NDJSON (one object per line) or JSON
 * (`{records:[...]}`). CSV and NDJSON are parsed as they stream in, at most `limit` bytes; JSON
 * was parsed by the body parser. Every record must carry the fields of `dataset` (an append), else
 * those of the first record (or the CSV header).
 * @param options.dataset - the columns of the dataset appended to
 * @param options.text - CSV columns whose fields stay text as written (categorical codes, see `TextColumns`)
 * @param options.maxColumns - most columns a record may have, checked on the header or first record before the rest is read
 * @param options.maxValues - most values (rows x columns) the body may hold, checked as it is read
 * @param options.scoring - records to score, not store: read as JSON score bodies are, a key an
 * NDJSON line gives twice keeping its last value, and fields that name no column passed over
 * @throws AppError MALFORMED_BODY naming the line, INVALID_RECORD naming record and field, BODY_TOO_LARGE, TOO_MANY_COLUMNS
 */
export async function readDatasetBody(
  req: Request,
  limit: number,
  options: { dataset?: readonly string[]; text?: readonly string[]; maxColumns?: number; maxValues?: number; setting?: BodyLimitSetting; scoring?: boolean } = {},
): Promise<{ columns: string[]; records: DataRecord[]; lines?: BodyLines }> {
  const { maxColumns = Infinity, maxValues = Infinity } = options;
  const notTooWide = (fields: number, whose: string): void => {
    if (fields > maxColumns) throw new AppError('TOO_MANY_COLUMNS', `${whose} has ${fields} columns; a dataset has at most ${maxColumns} (MAX_DATASET_COLUMNS), and a model takes at most ${MAX_FEATURES}. Nothing was stored`);
  };
  // Values, not bytes, are what an upload costs in memory: a CSV of single digits holds one in 2 bytes.
  const notTooMany = (values: number, columns: number): void => {
    if (values > maxValues) {
      throw new AppError(
        'BODY_TOO_LARGE',
        `the body holds more than ${maxValues} values (rows x columns; MAX_UPLOAD_VALUES), each held in memory until stored: send at most ${Math.max(1, Math.floor(maxValues / Math.max(1, columns)))} rows of its ${columns} columns a request, and append the rest with POST /v1/datasets/{name}/records. Nothing was stored`,
      );
    }
  };
  let columns: string[];
  let records: DataRecord[];
  let lines: BodyLines | undefined;
  if (req.is(TABLE_TYPES)) {
    const charset = charsetOf(req);
    if (charset !== undefined && !isUtf8Charset(charset)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `CSV and NDJSON must be UTF-8, not ${charset}`);
    const source = bodyText(req, limit, options.setting);
    if (req.is('text/csv')) {
      // A CsvError is MALFORMED_BODY naming the line.
      const csv = await parseCsvStream(source, 'body', options.text, (header, rows) => {
        if (rows === 0) notTooWide(header.length, 'the header');
        else notTooMany(rows * header.length, header.length);
      });
      ({ columns, records } = csv);
      lines = { format: 'CSV', of: csv.lines, header: { line: csv.headerLine, columns: csv.columns } };
    } else {
      const ndjson = await parseNdjson(source, (fields) => notTooWide(fields, 'the first record'), notTooMany, !options.scoring);
      lines = { format: 'NDJSON', of: ndjson.lines };
      records = await atLines(lines, () => canonicalNames(ndjson.records));
      columns = records.length ? Object.keys(records[0]) : [];
    }
  } else {
    refuseBareArray(req.body);
    const raw = (req.body as { records?: unknown } | undefined)?.records;
    // Before validation, which reads every field of every record (and copies each).
    if (Array.isArray(raw) && raw[0] !== null && typeof raw[0] === 'object') {
      const width = Object.keys(raw[0] as object).length;
      notTooWide(width, 'record 0');
      notTooMany(raw.length * width, width);
    }
    reservedField(raw);
    const parsed = datasetJsonSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues, datasetJsonSchema);
    records = canonicalNames(parsed.data.records);
    columns = Object.keys(records[0]);
  }
  if (records.length === 0) throw new AppError('INVALID_REQUEST', 'the body has no records');
  if (columns.length === 0) throw new AppError('INVALID_RECORD', 'record 0 has no fields', '/records/0');
  const { dataset } = options;
  const whose = dataset ? 'the dataset' : lines?.format === 'CSV' ? 'the header' : 'record 0';
  await atLines(lines, () => checkColumns(records, dataset ?? columns, whose));
  return { columns, records, ...(lines ? { lines } : {}) };
}

/** The line of a CSV or NDJSON body each record came from (blank lines and a header hold none). */
export interface BodyLines {
  format: 'CSV' | 'NDJSON';
  /** The 1-based line of each record. */
  of: readonly number[];
  /** A CSV body's header: its line and columns. A field no record has is missing from it. */
  header?: { line: number; columns: readonly string[] };
}

/**
 * Runs `check` over the records of a body; when the body was CSV or NDJSON, an error naming a
 * record also names its line, the number an editor shows.
 */
export async function atLines<T>(lines: BodyLines | undefined, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e: unknown) {
    if (!lines) throw e;
    const at = /^\/records\/(\d+)(?:\/(.*))?$/.exec(describe(e).pointer ?? '');
    if (at === null) throw e;
    // A field missing from a CSV record is missing from the header, on its line.
    const field = at[2] === undefined ? undefined : unescapePointer(at[2]);
    if (lines.header && field !== undefined && !lines.header.columns.includes(field)) throw onHeader(e, lines.header.line);
    throw onLine(e, lines.format, lines.of[Number(at[1])]);
  }
}

/** An error naming a field a CSV header lacks, as the header's: "CSV line 1 (the header): no column ...". */
function onHeader(e: unknown, line: number): unknown {
  const err = describe(e);
  const message = err.message.replace(/^record \d+ (?:is missing field|has no field)/, 'no column');
  return new AppError(err.code, `CSV line ${line} (the header): ${message}`, err.pointer, { cause: e });
}

/** An error naming a record, to name its line too (as it was without a line). */
function onLine(e: unknown, format: BodyLines['format'], line: number | undefined): unknown {
  if (line === undefined) return e;
  const err = describe(e);
  return new AppError(err.code, `${format} line ${line}: ${err.message}`, err.pointer, { cause: e });
}

/**
 * Refuses a record (of a raw, unvalidated list) with a field no column can be named: empty, with
 * control characters, or "__proto__", which validation would silently drop; and, for stored
 * records, a value that is not well-formed Unicode.
 */
function reservedField(records: unknown, offset = 0, stored = true): void {
  if (!Array.isArray(records)) return;
  records.forEach((r, i) => {
    if (r === null || typeof r !== 'object') return;
    for (const key of Object.keys(r)) {
      const why = columnNameProblem(key) ?? (stored ? storedNameProblem(key) : null);
      if (why) throw new AppError('INVALID_RECORD', `record ${i + offset} has a field ${JSON.stringify(key)}: ${why}`, `/records/${i + offset}/${escapePointer(key)}`);
      // Half of a UTF-16 pair (JSON's "\ud800") in a stored value: no CSV can send it again, and it prints as any other such half.
      const value: unknown = stored ? (r as Record<string, unknown>)[key] : undefined;
      if (typeof value === 'string' && /\p{Cs}/u.test(value)) {
        throw new AppError('INVALID_RECORD', `record ${i + offset} field ${JSON.stringify(key)}: a value must be well-formed Unicode, and this one holds half of a UTF-16 surrogate pair`, `/records/${i + offset}/${escapePointer(key)}`);
      }
    }
  });
}

/**
 * Why `name` cannot name a stored column beyond {@link columnNameProblem}, or null: spaces around
 * it. A CSV header is read trimmed, so no CSV append or score could ever send such a column. (A
 * score request's field of such a name is no column: it is passed over.)
 */
function storedNameProblem(name: string): string | null {
  return name.trim() !== name ? 'a column name cannot begin or end with spaces (CSV headers are read without them)' : null;
}

/**
 * The records with their field names in one Unicode form (see `canonicalName`), as a CSV header's
 * are: a name typed in NFC and the same name written in NFD (as macOS tools do) are one column. A
 * record is copied only when a name changes.
 * @throws AppError INVALID_RECORD for a record with two fields of one name in two forms
 */
function canonicalNames(records: DataRecord[]): DataRecord[] {
  return records.map((r, i) => {
    const keys = Object.keys(r);
    if (keys.every((k) => canonicalName(k) === k)) return r;
    const twice = nameInTwoForms(keys);
    if (twice !== undefined) throw fieldInTwoForms(i, twice);
    const out: Record<string, FieldValue> = {};
    for (const k of keys) out[canonicalName(k)] = r[k];
    return out;
  });
}

/**
 * Every record has exactly `columns`.
 * @param whose - what the columns are, for the refusal's words
 */
function checkColumns(records: readonly DataRecord[], columns: readonly string[], whose: string): void {
  const want = new Set(columns);
  records.forEach((r, i) => {
    for (const c of columns) {
      if (!Object.prototype.hasOwnProperty.call(r, c)) throw new AppError('INVALID_RECORD', `record ${i} has no field "${c}"`, `/records/${i}/${escapePointer(c)}`);
    }
    for (const k of Object.keys(r)) {
      if (!want.has(k)) throw new AppError('INVALID_RECORD', `record ${i} has field "${k}", which ${whose} does not have`, `/records/${i}/${escapePointer(k)}`);
    }
  });
}

/**
 * Records of an NDJSON body, a line at a time as its text arrives. Lines are split here, not by
 * readline: stopping early (a bad line) must end the source, whose later errors (more bad bytes,
 * the limit) would otherwise reach a readline interface that no longer listens, and crash.
 * @param stored - records to store: a key a line gives twice, and spaces around a field's name, are refused
 */
async function parseNdjson(
  source: AsyncIterable<string>,
  first: (fields: number) => void,
  values: (count: number, columns: number) => void,
  stored: boolean,
): Promise<{ records: DataRecord[]; lines: number[] }> {
  let held = 0;
  const records: DataRecord[] = [];
  const lines: number[] = [];
  const value = z.record(z.string(), fieldValue);
  let n = 0;
  const take = (raw: string): void => {
    n++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      const utf16 = utf16Words(line, 'the body');
      throw new AppError('MALFORMED_BODY', `NDJSON line ${n} is not valid JSON${utf16 ? `: ${utf16}` : ''}`);
    }
    const twice = stored ? repeatedKey(line) : null;
    if (twice !== null) throw repeatedKeyError(`/records/${records.length}${twice}`, n);
    try {
      if (parsed !== null && typeof parsed === 'object') {
        const fields = Object.keys(parsed).length;
        if (records.length === 0) first(fields);
        held += fields;
        values(held, fields);
      }
      reservedField([parsed], records.length, stored);
      const r = value.safeParse(parsed);
      if (!r.success) {
        const issue = r.error.issues[0];
        throw requestError([{ ...issue, path: ['records', records.length, ...issue.path] } as typeof issue]);
      }
      records.push(r.data);
      lines.push(n);
    } catch (e: unknown) {
      throw onLine(e, 'NDJSON', n);
    }
  };
  let rest = '';
  // A for-await that throws returns the generator, which ends reading the body.
  for await (const text of source) {
    const split = (rest + text).split('\n');
    rest = split.pop() as string;
    for (const line of split) take(line);
  }
  if (rest !== '') take(rest);
  return { records, lines };
}
