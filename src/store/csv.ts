import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { DataRecord, FieldValue } from '../nce';

/** A CSV file read into records, with the file line each record started on. */
export interface CsvTable {
  columns: string[];
  records: DataRecord[];
  lines: number[];
}

/** A CSV problem with the file and line it is on. */
export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/**
 * Types one CSV field: a value that parses as a finite number is numeric, any other non-empty value
 * is a category, an empty field is missing.
 */
export function typeField(raw: string): FieldValue {
  const t = raw.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : raw;
}

/**
 * Reads a CSV file with a header row.
 * @throws CsvError naming file and line: no header, a ragged row, duplicate or empty column names
 */
export function readCsv(file: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e: unknown) {
    throw new CsvError(file, 0, `cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseCsv(text, file);
}

/** Parses CSV text (see {@link readCsv}); `file` only names the source in errors. */
export function parseCsv(text: string, file = '<csv>'): CsvTable {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { bom: true, info: true, skip_empty_lines: true, relax_column_count: true }) as unknown as typeof rows;
  } catch (e: unknown) {
    const err = e as { lines?: number; message?: string };
    throw new CsvError(file, err.lines ?? 0, `malformed CSV: ${String(err.message).replace(/^Invalid[^:]*:\s*/, '')}`);
  }
  if (rows.length === 0) throw new CsvError(file, 1, 'empty file: expected a header row');
  const header = rows[0].record.map((h) => h.trim());
  const headerLine = rows[0].info.lines;
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new CsvError(file, headerLine, `header column ${i + 1} is empty`);
    if (typeof typeField(h) === 'number') {
      throw new CsvError(file, headerLine, `header column ${i + 1} is the number "${h}": the first row must name the columns`);
    }
    if (seen.has(h)) throw new CsvError(file, headerLine, `duplicate column "${h}"`);
    seen.add(h);
  });
  const records: DataRecord[] = [];
  const lines: number[] = [];
  for (let r = 1; r < rows.length; r++) {
    const { record, info } = rows[r];
    if (record.length !== header.length) {
      throw new CsvError(file, info.lines, `row has ${record.length} fields but the header has ${header.length}`);
    }
    const rec: Record<string, FieldValue> = Object.create(null);
    for (let j = 0; j < header.length; j++) rec[header[j]] = typeField(record[j]);
    records.push(rec);
    lines.push(info.lines);
  }
  return { columns: header, records, lines };
}
