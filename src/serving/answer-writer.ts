import { type Explanation, resultsOf, resultValue, SCORE_FIELDS, type ScoredRows, type ScoreFieldKind, type ScoreResult } from '../nce';
import { jsonListBody, listOpening, SHORT_LIST } from './json-list';

/**
 * A scoring answer's numbers are rounded to six decimal places (writeNumber writes up to six,
 * without trailing zeros, as JSON.stringify writes the rounded number). The network
 * computes in float32, whose resolution at a typical logit (|x| ~ 1-10) is 1e-7 to 1e-6: digits
 * past the sixth are noise, and writing them makes the answer ~40% larger and slower to build,
 * send and parse.
 */
const SCALE = 1e6;

/** A number as a scoring answer gives it: rounded to six decimal places. */
export function answerNumber(x: number): number {
  return Math.round(x * SCALE) / SCALE;
}

/**
 * A result as a scoring answer gives it: each of {@link SCORE_FIELDS} with its numbers rounded,
 * then any contributions. `ood` is decided on the unrounded score.
 */
export function answerResult(r: ScoreResult): ScoreResult {
  const out: Record<string, unknown> = {};
  for (const { name } of SCORE_FIELDS) {
    const v = r[name];
    out[name] = typeof v === 'number' ? answerNumber(v) : v;
  }
  if (r.contributions) out.contributions = Object.fromEntries(Object.entries(r.contributions).map(([k, v]) => [k, answerNumber(v)]));
  // Built field by field from SCORE_FIELDS, which the type is made from.
  return out as unknown as ScoreResult;
}

/**
 * The body of a scoring answer, `{ ...head, results: [...] }`: exactly the bytes of JSON.stringify
 * over `head` and the rows' results ({@link resultsOf}) mapped by {@link answerResult}. A few rows
 * are one string (Node sends it in one write with the headers); more are written by {@link writeAnswer}.
 */
export function answerBody(head: AnswerHead, rows: ScoredRows): string | Buffer {
  return rows.score.length <= SHORT_LIST ? shortAnswer(head, rows) : writeAnswer(head, rows);
}

/**
 * Each field's key as the writers write it: `{"score":`, `,"logRatio":`, ... The two writers below
 * are unrolled for the fields of {@link SCORE_FIELDS} in this order (score, logRatio, logDensity,
 * percentile, ood); `test/unit/serving/score-fields.test.ts` fails until they follow a change there.
 */
const [SCORE_KEY, LOG_RATIO_KEY, LOG_DENSITY_KEY, PERCENTILE_KEY, OOD_KEY] = SCORE_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}"${f.name}":`) as [string, string, string, string, string];

/** {@link answerBody} of a few rows, joined as a string straight from the columns. */
function shortAnswer(head: AnswerHead, rows: ScoredRows): string {
  let body = answerOpening(head);
  for (let i = 0; i < rows.score.length; i++) {
    const logDensity = rows.logDensity[i];
    // As resultsOf: no density is null.
    body += `${i > 0 ? ',' : ''}${SCORE_KEY}${jsonNumber(rows.score[i])}${LOG_RATIO_KEY}${jsonNumber(rows.logRatio[i])}${LOG_DENSITY_KEY}${Number.isFinite(logDensity) ? jsonNumber(logDensity) : 'null'}${PERCENTILE_KEY}${jsonNumber(rows.percentile[i])}${OOD_KEY}${rows.ood[i] === 1}}`;
  }
  return `${body}]}`;
}

/** The last answer opening made: consecutive answers mostly name the same model version. */
let lastOpening = { model: '', version: '', text: '' };

/** `{...head,"results":[` as JSON. */
function answerOpening(head: AnswerHead): string {
  if (head.model !== lastOpening.model || head.version !== lastOpening.version) {
    lastOpening = { model: head.model, version: head.version, text: `${listOpening(head, 'results')}[` };
  }
  return lastOpening.text;
}

/** JSON.stringify(answerNumber(x)): a finite number converts to the same digits either way. */
function jsonNumber(x: number): string {
  const rounded = answerNumber(x);
  return Number.isFinite(rounded) ? String(rounded) : 'null';
}

/** The body of a scoring answer from its results, which may carry `contributions`. */
export function scoreAnswer(head: AnswerHead, results: readonly ScoreResult[]): string | Buffer {
  return jsonListBody(head, 'results', results.map(answerResult));
}

/** The body of a scoring answer whose results carry each record's `contributions`. */
export function explainedAnswer(head: AnswerHead, rows: ScoredRows, explanations: readonly Explanation[]): string | Buffer {
  return scoreAnswer(head, resultsOf(rows).map((r, i) => ({ ...r, contributions: explanations[i].contributions })));
}

/** The header of a CSV of results: the names of {@link SCORE_FIELDS}. */
export const CSV_HEADER = SCORE_FIELDS.map((f) => f.name).join(',');

/** One field's value in a CSV row: a number as JSON answers give it, no density an empty field. */
function csvValue(kind: ScoreFieldKind, x: number): string {
  const v = resultValue(kind, x);
  return v === null ? '' : String(typeof v === 'number' ? answerNumber(v) : v);
}

/**
 * Scored rows as CSV lines under {@link CSV_HEADER}, written straight from the columns: the one CSV
 * writer of results, for the API's CSV answers and `nce-ood score`.
 */
export function csvRows(rows: ScoredRows): string[] {
  const lines: string[] = new Array(rows.score.length);
  for (let i = 0; i < lines.length; i++) {
    let line = '';
    for (let k = 0; k < SCORE_FIELDS.length; k++) {
      const f = SCORE_FIELDS[k];
      line += `${k > 0 ? ',' : ''}${csvValue(f.kind, rows[f.name][i])}`;
    }
    lines[i] = line;
  }
  return lines;
}

/** The CSV answer of scored rows: {@link CSV_HEADER}, then {@link csvRows}. */
export function csvAnswer(rows: ScoredRows): string {
  return [CSV_HEADER, ...csvRows(rows)].join('\n') + '\n';
}

/** What an answer names before its results. */
export interface AnswerHead {
  model: string;
  version: string;
}

/**
 * {@link answerBody} written straight from the columns into one buffer, digits by integer
 * arithmetic: for 1,000 records that takes about a fifth of the time of JSON.stringify, whose
 * shortest-round-trip formatting of doubles is most of its cost. Bytes go in through a DataView,
 * four or two at a time where it can (V8 compiles its unaligned stores to single instructions).
 * The buffer owns its memory, so a scoring thread can hand it over without a copy.
 */
export function writeAnswer(head: AnswerHead, rows: ScoredRows): Buffer {
  const n = rows.score.length;
  const open = bytes(answerOpening(head));
  const buf = new Uint8Array(open.length + n * MAX_ROW_BYTES + 2);
  buf.set(open);
  const out = new DataView(buf.buffer);
  let pos = open.length;
  for (let i = 0; i < n; i++) {
    if (i > 0) out.setUint8(pos++, COMMA);
    pos = put(out, pos, SCORE);
    pos = writeNumber(out, pos, rows.score[i]);
    pos = put(out, pos, LOG_RATIO);
    pos = writeNumber(out, pos, rows.logRatio[i]);
    pos = put(out, pos, LOG_DENSITY);
    const logDensity = rows.logDensity[i];
    // As resultsOf: no density is null.
    pos = Number.isFinite(logDensity) ? writeNumber(out, pos, logDensity) : put(out, pos, NULL);
    pos = put(out, pos, PERCENTILE);
    pos = writeNumber(out, pos, rows.percentile[i]);
    pos = put(out, pos, rows.ood[i] === 1 ? OOD_TRUE : OOD_FALSE);
  }
  pos = put(out, pos, CLOSE);
  return Buffer.from(buf.buffer, 0, pos);
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A constant piece of the answer as little-endian 32-bit words and the bytes left over. */
interface Piece {
  length: number;
  words: Int32Array;
  tail: Uint8Array;
}

function piece(s: string): Piece {
  const b = bytes(s);
  const whole = b.length >> 2;
  // Read as little-endian whatever the host's order: put() writes them back as little-endian.
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { length: b.length, words: Int32Array.from({ length: whole }, (_, i) => view.getInt32(4 * i, true)), tail: b.slice(whole * 4) };
}

const SCORE = piece(SCORE_KEY);
const LOG_RATIO = piece(LOG_RATIO_KEY);
const LOG_DENSITY = piece(LOG_DENSITY_KEY);
const PERCENTILE = piece(PERCENTILE_KEY);
const OOD_TRUE = piece(`${OOD_KEY}true}`);
const OOD_FALSE = piece(`${OOD_KEY}false}`);
const NULL = piece('null');
const CLOSE = piece(']}');
const COMMA = 0x2c;
/** Longest JSON of a number: 17 significant digits, sign, point and a 4-character exponent. */
const MAX_NUMBER_BYTES = 24;
const MAX_ROW_BYTES = 1 + SCORE.length + LOG_RATIO.length + LOG_DENSITY.length + PERCENTILE.length + OOD_FALSE.length + 4 * MAX_NUMBER_BYTES;
/**
 * Below this magnitude a rounded number has at most 15 significant digits, so its shortest
 * round-trip form (what JSON.stringify writes) is its plain decimal digits.
 */
const PLAIN_LIMIT = 1e9;

function put(out: DataView, pos: number, p: Piece): number {
  const { words, tail } = p;
  // The host's byte order does not matter: piece() read the words from the bytes as little-endian.
  for (let i = 0; i < words.length; i++) out.setInt32(pos + 4 * i, words[i], true);
  const at = pos + 4 * words.length;
  for (let i = 0; i < tail.length; i++) out.setUint8(at + i, tail[i]);
  return pos + p.length;
}

/** "00" to "99": the two ASCII digits of n as one little-endian 16-bit value at n. */
const PAIRS = Uint16Array.from({ length: 100 }, (_, i) => (0x30 + ((i / 10) | 0)) | ((0x30 + (i % 10)) << 8));
const digits = new Uint8Array(16);

/** Writes JSON.stringify(answerNumber(x)) at `pos`; returns the position after it. */
function writeNumber(out: DataView, pos: number, x: number): number {
  if (!(Math.abs(x) < PLAIN_LIMIT)) return put(out, pos, piece(jsonNumber(x)));
  let m = Math.round(x * SCALE);
  // -0 (a small negative number rounded) is written "0", as JSON.stringify writes it.
  if (m < 0) {
    out.setUint8(pos++, 0x2d);
    m = -m;
  }
  // Below PLAIN_LIMIT both parts fit in 32 bits.
  let whole = Math.floor(m / SCALE);
  const frac = m - whole * SCALE;
  if (whole < 10) {
    out.setUint8(pos++, 0x30 + whole);
  } else if (whole < 100) {
    out.setUint16(pos, PAIRS[whole], true);
    pos += 2;
  } else {
    let d = 0;
    do {
      const q = (whole / 10) | 0;
      digits[d++] = 0x30 + whole - q * 10;
      whole = q;
    } while (whole > 0);
    while (d > 0) out.setUint8(pos++, digits[--d]);
  }
  if (frac === 0) return pos;
  // Six digits, two at a time, then the trailing zeros left out.
  out.setUint8(pos, 0x2e);
  const high = (frac / 10000) | 0;
  const rest = frac - high * 10000;
  const mid = (rest / 100) | 0;
  const low = rest - mid * 100;
  out.setUint16(pos + 1, PAIRS[high], true);
  out.setUint16(pos + 3, PAIRS[mid], true);
  out.setUint16(pos + 5, PAIRS[low], true);
  // The last non-zero pair, less its second digit if that is 0 (frac > 0, so one pair is non-zero).
  if (low !== 0) return pos + (low % 10 === 0 ? 6 : 7);
  if (mid !== 0) return pos + (mid % 10 === 0 ? 4 : 5);
  return pos + (high % 10 === 0 ? 2 : 3);
}
