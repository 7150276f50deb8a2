import type { Request } from 'express';
import { z } from 'zod';
import type { DataRecord } from '../nce';
import { CsvError, parseCsv } from '../store';
import { AppError, escapePointer } from './errors';
import { fieldValue, requestError } from './validation';

/** A JSON dataset upload. */
export const datasetJsonSchema = z.object({ records: z.array(z.record(z.string(), fieldValue)).min(1) }).strict();

/**
 * The records of a dataset upload, from CSV (header row), NDJSON (one object per line) or JSON
 * (`{records:[...]}`). Every record must carry the same fields as the first (or the CSV header).
 * @throws AppError MALFORMED_BODY naming the line, INVALID_RECORD naming record and field
 */
export function parseDatasetBody(req: Request): { columns: string[]; records: DataRecord[] } {
  let columns: string[];
  let records: DataRecord[];
  if (req.is('text/csv')) {
    try {
      ({ columns, records } = parseCsv(String(req.body ?? ''), 'body'));
    } catch (e: unknown) {
      if (e instanceof CsvError) throw new AppError('MALFORMED_BODY', e.message);
      throw e;
    }
  } else if (req.is('application/x-ndjson')) {
    records = parseNdjson(String(req.body ?? ''));
    columns = records.length ? Object.keys(records[0]) : [];
  } else {
    const parsed = datasetJsonSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    records = parsed.data.records;
    columns = Object.keys(records[0]);
  }
  if (records.length === 0) throw new AppError('INVALID_REQUEST', 'the dataset has no records');
  if (columns.length === 0) throw new AppError('INVALID_RECORD', 'record 0 has no fields', '/records/0');
  checkColumns(records, columns);
  return { columns, records };
}

/** Every record has exactly `columns`. */
export function checkColumns(records: readonly DataRecord[], columns: readonly string[]): void {
  const want = new Set(columns);
  records.forEach((r, i) => {
    for (const c of columns) {
      if (!Object.prototype.hasOwnProperty.call(r, c)) throw new AppError('INVALID_RECORD', `record ${i} has no field "${c}"`, `/records/${i}/${escapePointer(c)}`);
    }
    for (const k of Object.keys(r)) {
      if (!want.has(k)) throw new AppError('INVALID_RECORD', `record ${i} has field "${k}", which the dataset does not have`, `/records/${i}/${escapePointer(k)}`);
    }
  });
}

function parseNdjson(text: string): DataRecord[] {
  const records: DataRecord[] = [];
  const value = z.record(z.string(), fieldValue);
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new AppError('MALFORMED_BODY', `NDJSON line ${n + 1} is not valid JSON`);
    }
    const r = value.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw requestError({ ...issue, path: ['records', records.length, ...issue.path] } as typeof issue);
    }
    records.push(r.data);
  });
  return records;
}
