import { AppError } from '../errors';
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { CsvError as CsvParseError, parse as parseStream } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { canonicalName, type DataRecord, DECIMAL_TEXT, type FieldValue } from '../nce';
import { notUtf8Words } from './utf8';

/** A CSV file read into records, with the file line each record ends on (its only line, but for a quoted field across lines). */
export interface CsvTable {
  columns: string[];
  records: DataRecord[];
  lines: number[];
  /** The line of the header (1 unless blank lines come first). */
  headerLine: number;
}

/** How errors name standard input (read as the file "-"). */
const STDIN_NAME = 'standard input';

/** A CSV problem with the file and line it is on. */
export class CsvError extends AppError {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    // Line 0: the file as a whole (it cannot be read). "-" (the CLI's --data -) is standard input.
    const name = file === '-' ? STDIN_NAME : file;
    super('MALFORMED_BODY', line > 0 ? `${name}:${line}: ${message}` : `${name}: ${message}`);
    this.name = 'CsvError';
  }
}

/**
 * Types one CSV field, trimmed of surrounding spaces as the header's names are (a file written
 * "38.5, web" means "web"): a decimal number that is finite is numeric, any other non-empty value
 * (including "0x10", which JavaScript would read as 16) is a category, an empty field is missing.
 */
export function typeField(raw: string): FieldValue {
  const t = raw.trim();
  if (t === '') return null;
  if (!DECIMAL_TEXT.test(t)) return t;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/**
 * All of standard input. Read from fd 0 (a pipe, a socket, a file); when a parent left it
 * non-blocking and it has nothing yet (EAGAIN), opened anew as /dev/stdin, which blocks.
 */
function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    return readFileSync('/dev/stdin');
  }
}

/**
 * Reads a CSV file with a header row; "-" reads standard input, as most Unix tools do. The
 * columns `textColumns` names keep their fields as text (see {@link TextColumns}).
 * @throws CsvError naming file and line: no header, a ragged row, duplicate or empty column names
 */
export function readCsv(path: string, textColumns: TextColumns = []): CsvTable {
  const file = path === '-' ? STDIN_NAME : path;
  let bytes: Buffer;
  try {
    bytes = path === '-' ? readStdin() : readFileSync(path);
  } catch (e: unknown) {
    throw new CsvError(file, 0, `cannot read the file: ${fileProblem(e)}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Read leniently, the bytes would become replacement characters in a header or a value.
    throw new CsvError(file, 0, notUtf8Words(bytes, { what: 'the file' }));
  }
  return parseCsv(text, file, textColumns);
}

/** Why a file could not be read or written, in words (the errno after them). */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EISDIR: 'it is a folder',
    ENOTDIR: 'a folder in its path is a file',
    ENOSPC: 'no space left on the device',
    EFBIG: 'the file is too large',
  };
  return code === undefined ? String(e) : `${words[code] ?? 'it could not be opened'} (${code})`;
}

/**
 * csv-parse options shared by the whole-text and the streaming parse. `trim` takes the spaces
 * around separators out before parsing, so `38.5, "web"` (a file written with ", " between fields)
 * reads as `38.5,"web"`; a quoted field keeps the spaces inside its quotes.
 */
const CSV_OPTIONS = { bom: true, info: true, skip_empty_lines: true, relax_column_count: true, trim: true } as const;

/** A csv-parse failure as a CsvError naming the line, counted by `lines` where csv-parse said where it stopped (see {@link LineCounter}). */
function csvParseError(e: unknown, file: string, lines: LineCounter): CsvError {
  const err = e as { lines?: number; bytes?: number; message?: string };
  const line = typeof err.bytes === 'number' ? lines.lineAt(err.bytes) : (err.lines ?? 0);
  // csv-parse counts fields from 0 ("field 1" is the second): named as the column, from 1.
  const message = String(err.message)
    .replace(/^Invalid[^:]*:\s*/, '')
    .replace(/\bfield (\d+)/g, (_, i: string) => `column ${Number(i) + 1}`)
    .replace(/\bat line \d+/g, `at line ${line}`);
  return new CsvError(file, line, `malformed CSV: ${message}`);
}

/**
 * Columns whose fields stay text as written (trimmed; an empty one is missing) instead of being
 * typed: categorical codes that look like numbers ("02134", "2.10", "3.0") would lose their
 * leading zeros and trailing digits, and no longer match the same codes sent as JSON strings.
 * `'all'`: every column (fields echoed back as they were written, such as ids).
 */
export type TextColumns = readonly string[] | 'all';

/** Turns CSV rows, header first, into typed records, checking each row as it arrives. */
class CsvRecords {
  private header: string[] | null = null;
  private headerLine = 1;
  private asText: boolean[] = [];
  readonly records: DataRecord[] = [];
  readonly lines: number[] = [];

  constructor(
    private readonly file: string,
    private readonly text: TextColumns = [],
    private readonly watch?: (columns: readonly string[], rows: number) => void,
  ) {}

  push(record: string[], line: number): void {
    if (this.header === null) {
      this.watch?.(record, 0);
      this.header = checkHeader(record, line, this.file);
      this.headerLine = line;
      const text = this.text;
      this.asText = this.header.map((h) => text === 'all' || text.includes(h));
      return;
    }
    const header = this.header;
    if (record.length !== header.length) {
      // A title line above the header: a "header" of one field, and rows of many.
      const title = header.length === 1 && record.length > 1 && this.records.length === 0 ? `: is the first line (${JSON.stringify(header[0])}) a title above the header? Delete it, so that the header is the first line` : '';
      throw new CsvError(this.file, line, `row has ${record.length} fields but the header has ${header.length}${title}`);
    }
    if (header.length > 1 && record.every((f, j) => f.trim() === header[j])) {
      throw new CsvError(this.file, line, 'the header repeats here (files joined one after another?): delete the repeated header lines');
    }
    const rec: Record<string, FieldValue> = Object.create(null);
    for (let j = 0; j < header.length; j++) rec[header[j]] = this.asText[j] ? record[j].trim() || null : typeField(record[j]);
    this.records.push(rec);
    this.watch?.(header, this.records.length);
    this.lines.push(line);
  }

  table(): CsvTable {
    if (this.header === null) throw new CsvError(this.file, 1, 'empty file: expected a header row');
    return { columns: this.header, records: this.records, lines: this.lines, headerLine: this.headerLine };
  }
}

/**
 * Why `name` cannot name a column, or null: empty, control characters (a NUL in a header is a
 * file that is not text), "__proto__", which JSON readers (and request validation) drop, so
 * such a column would vanish from some records and not from others, or half of a UTF-16 pair.
 */
export function columnNameProblem(name: string): string | null {
  if (name === '') return 'a column name cannot be empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `a column name cannot hold control characters${name.includes('\u0000') ? ' (NUL bytes between the letters: the text may be UTF-16 without its byte-order mark; save it as UTF-8)' : ''}`;
  if (name === '__proto__') return '"__proto__" cannot name a column';
  // Half of a UTF-16 pair (JSON's "\ud800"): two such names print alike, as the same replacement
  // character, in the metrics' feature labels, and no CSV can carry one.
  if (/\p{Cs}/u.test(name)) return 'a column name must be well-formed Unicode: it holds half of a UTF-16 surrogate pair';
  return null;
}

function checkHeader(record: string[], line: number, file: string): string[] {
  // One Unicode form: a name typed in NFC and the same name written in NFD are one column.
  const header = record.map((h) => canonicalName(h.trim()));
  // One column whose name holds semicolons or tabs: a file of another separator, which would
  // otherwise load as one text column (every row a different value) and train a useless model.
  const other = header.length === 1 ? [';', '\t', '|'].find((sep) => header[0].split(sep).filter((p) => p.trim() !== '').length > 1) : undefined;
  if (other !== undefined) {
    throw new CsvError(file, line, `the header is one column, ${JSON.stringify(header[0])}: fields are separated by commas, and this file looks separated by ${JSON.stringify(other)} (save it as comma-separated CSV)`);
  }
  // Excel's "sep=," line above the header.
  if (header.length <= 2 && /^sep=.?$/i.test(record.join(','))) {
    throw new CsvError(file, line, `the first line is ${JSON.stringify(record.join(','))}, a spreadsheet's separator hint, not a header: delete that line`);
  }
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === '') throw new CsvError(file, line, `header column ${i + 1} is empty${emptyNameCause(header, i)}`);
    if (typeof typeField(h) === 'number') throw new CsvError(file, line, `header column ${i + 1} is the number "${h}": the first row must name the columns`);
    if (seen.has(h)) throw new CsvError(file, line, `duplicate column "${h}" (header columns ${(seen.get(h) as number) + 1} and ${i + 1})`);
    const problem = columnNameProblem(h);
    if (problem) throw new CsvError(file, line, `header column ${i + 1} (${JSON.stringify(h)}): ${problem}`);
    seen.set(h, i);
  });
  return header;
}

/** What an empty column name in a header usually is, as a hint for the message. */
function emptyNameCause(header: readonly string[], i: number): string {
  if (i === 0 && header.length > 1) return ': an index written without a name? (pandas: to_csv(index=False); R: write.csv(x, row.names = FALSE)); name the column or leave it out';
  if (i === header.length - 1 && header.length > 1) return ': does every line end with a comma (some spreadsheet exports do)? Remove the trailing commas, or name the column';
  return ': name every column';
}

/** Parses CSV text (see {@link readCsv}); `file` only names the source in errors. */
export function parseCsv(text: string, file = '<csv>', textColumns: TextColumns = []): CsvTable {
  let rows: { record: string[]; info: { bytes: number } }[];
  const lines = new LineCounter();
  lines.push(Buffer.from(text));
  try {
    rows = parse(text, CSV_OPTIONS) as unknown as typeof rows;
  } catch (e: unknown) {
    throw csvParseError(e, file, lines);
  }
  const out = new CsvRecords(file, textColumns);
  for (const { record, info } of rows) out.push(record, lines.lineEnding(info.bytes));
  return out.table();
}

/** Rows parsed between two looks at the clock, and the most milliseconds of parsing between two turns of the event loop. */
const ROWS_PER_CHECK = 256;
const TURN_MS = 20;

/**
 * Parses CSV as it streams in (see {@link readCsv}): rows become records while later bytes are
 * still arriving, so the text is never held whole. `watch` sees the header's fields first (with 0
 * rows), then the count of rows after each, and may refuse them by throwing: before any row is
 * read, or before the next.
 */
export async function parseCsvStream(source: AsyncIterable<Buffer | string>, file = '<csv>', textColumns: TextColumns = [], watch?: (columns: readonly string[], rows: number) => void): Promise<CsvTable> {
  const out = new CsvRecords(file, textColumns, watch);
  const parser = parseStream(CSV_OPTIONS);
  const lines = new LineCounter();
  const feed = (async () => {
    try {
      for await (const chunk of source) {
        if (parser.destroyed) return;
        // Counted before the parser sees them: its records then never end beyond what was counted.
        lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        // Backpressure: wait until the parser drains, or stops (a parse error destroys it).
        if (!parser.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              parser.off('drain', done);
              parser.off('close', done);
              resolve();
            };
            parser.on('drain', done);
            parser.on('close', done);
          });
        }
      }
      if (!parser.destroyed) parser.end();
    } catch (e: unknown) {
      parser.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  })();
  try {
    // csv-parse hands over rows already parsed from the bytes it holds without a turn of the event
    // loop between them: a turn now and then, so that a large upload (1.5 million short rows held
    // health checks and scoring for 0.3-0.9 s at a time, an outside probe) shares the process.
    let turnAt = performance.now();
    for await (const row of parser as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      out.push(row.record, lines.lineEnding(row.info.bytes));
      if (out.records.length % ROWS_PER_CHECK === 0 && performance.now() - turnAt > TURN_MS) {
        await yieldToEventLoop();
        turnAt = performance.now();
      }
    }
  } catch (e: unknown) {
    // csv-parse's own errors name the line; anything else (ours, or the source's) goes up as is.
    if (e instanceof CsvParseError) throw csvParseError(e, file, lines);
    throw e;
  } finally {
    await feed;
  }
  return out.table();
}

/**
 * The line each record of a CSV ends on, from the bytes csv-parse says it consumed through it.
 * csv-parse's own count (`info.lines`) counts a CRLF inside a quoted field as two lines, so every
 * error after such a field named the line below its row (an outside probe: a Windows export with
 * a multi-line note). Here CRLF, LF and a lone CR are one line break each. Fed the bytes in order
 * and asked about records in order, it holds only the bytes not yet counted.
 */
class LineCounter {
  /** Bytes not yet counted, from `head` on (counted chunks are let go, the array compacted now and then). */
  private chunks: (Buffer | undefined)[] = [];
  private head = 0;
  /** Offset of chunk `head` in the whole text, and the position counted to within it. */
  private base = 0;
  private at = 0;
  /** Line breaks counted before `base + at`. */
  private breaks = 0;
  private total = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The line (from 1) on which the record ends that the first `bytes` bytes run through, its own line break after it excluded. */
  lineEnding(bytes: number): number {
    let end = Math.min(bytes, this.total);
    // The record's own delimiter is not a line within it.
    if (end > 0 && this.byteAt(end - 1) === LF) end--;
    if (end > 0 && this.byteAt(end - 1) === CR) end--;
    return this.lineAt(end);
  }

  /** The line (from 1) of the byte at `offset`: one more than the line breaks before it (counted forward only). */
  lineAt(offset: number): number {
    this.countTo(Math.min(offset, this.total));
    return this.breaks + 1;
  }

  private byteAt(offset: number): number | undefined {
    let o = offset - this.base;
    for (let k = this.head; k < this.chunks.length; k++) {
      const c = this.chunks[k] as Buffer;
      if (o < c.length) return c[o];
      o -= c.length;
    }
    return undefined;
  }

  private countTo(end: number): void {
    while (this.base + this.at < end && this.head < this.chunks.length) {
      const c = this.chunks[this.head] as Buffer;
      const stop = Math.min(c.length, end - this.base);
      for (let i = this.at; i < stop; i++) {
        const b = c[i];
        if (b === LF) this.breaks++;
        // A lone CR: one not followed by LF (looked up across the chunk's end).
        else if (b === CR && (i + 1 < c.length ? c[i + 1] : this.byteAt(this.base + i + 1)) !== LF) this.breaks++;
      }
      this.at = stop;
      if (stop === c.length) {
        this.chunks[this.head++] = undefined;
        this.base += c.length;
        this.at = 0;
        // Shifting one by one would copy the array for every chunk of a long record: quadratic.
        if (this.head > 1024 && this.head * 2 > this.chunks.length) {
          this.chunks = this.chunks.slice(this.head);
          this.head = 0;
        }
      }
    }
  }
}

const LF = 0x0a;
const CR = 0x0d;
