import { resultsOf, type ScoredRows, type ScoreResult } from '../nce';
import { jsonListBody, listOpening, SHORT_LIST } from './json-body';

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

/** A result as a scoring answer gives it. `ood` is decided on the unrounded score. */
export function answerResult(r: ScoreResult): ScoreResult {
  const out: ScoreResult = {
    score: answerNumber(r.score),
    logRatio: answerNumber(r.logRatio),
    logDensity: r.logDensity === null ? null : answerNumber(r.logDensity),
    percentile: answerNumber(r.percentile),
    ood: r.ood,
  };
  if (r.contributions) out.contributions = Object.fromEntries(Object.entries(r.contributions).map(([k, v]) => [k, answerNumber(v)]));
  return out;
}

/**
 * The body of a scoring answer, `{ ...head, results: [...] }`: exactly the bytes of JSON.stringify
 * over `head` and the rows' results ({@link resultsOf}) mapped by {@link answerResult}. A few rows
 * are one string (Node sends it in one write with the headers); more are written by {@link writeAnswer}.
 */
export function answerBody(head: AnswerHead, rows: ScoredRows): string | Buffer {
  return rows.score.length <= SHORT_LIST ? scoreAnswer(head, resultsOf(rows)) : writeAnswer(head, rows);
}

/** The body of a scoring answer from its results, which may carry `contributions`. */
export function scoreAnswer(head: AnswerHead, results: readonly ScoreResult[]): string | Buffer {
  return jsonListBody(head, 'results', results.map(answerResult));
}

/** What an answer names before its results. */
export interface AnswerHead {
  model: string;
  version: string;
}

/**
 * {@link answerBody} written straight from the columns into one buffer, digits by integer
 * arithmetic: for 1,000 records that takes about a third of the time of JSON.stringify, whose
 * shortest-round-trip formatting of doubles is most of its cost. The buffer owns its memory, so a
 * scoring thread can hand it over without a copy.
 */
export function writeAnswer(head: AnswerHead, rows: ScoredRows): Buffer {
  const n = rows.score.length;
  const open = bytes(`${listOpening(head, 'results')}[`);
  // A plain Uint8Array: V8 writes its elements faster than a Buffer's.
  const buf = new Uint8Array(open.length + n * MAX_ROW_BYTES + 2);
  let pos = put(buf, 0, open);
  for (let i = 0; i < n; i++) {
    if (i > 0) buf[pos++] = COMMA;
    pos = put(buf, pos, SCORE);
    pos = writeNumber(buf, pos, rows.score[i] as number);
    pos = put(buf, pos, LOG_RATIO);
    pos = writeNumber(buf, pos, rows.logRatio[i] as number);
    pos = put(buf, pos, LOG_DENSITY);
    const logDensity = rows.logDensity[i] as number;
    // As resultsOf: no density is null.
    pos = Number.isFinite(logDensity) ? writeNumber(buf, pos, logDensity) : put(buf, pos, NULL);
    pos = put(buf, pos, PERCENTILE);
    pos = writeNumber(buf, pos, rows.percentile[i] as number);
    pos = put(buf, pos, rows.ood[i] === 1 ? OOD_TRUE : OOD_FALSE);
  }
  pos = put(buf, pos, CLOSE);
  return Buffer.from(buf.buffer, 0, pos);
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const SCORE = bytes('{"score":');
const LOG_RATIO = bytes(',"logRatio":');
const LOG_DENSITY = bytes(',"logDensity":');
const PERCENTILE = bytes(',"percentile":');
const OOD_TRUE = bytes(',"ood":true}');
const OOD_FALSE = bytes(',"ood":false}');
const NULL = bytes('null');
const CLOSE = bytes(']}');
const COMMA = 0x2c;
/** Longest JSON of a number: 17 significant digits, sign, point and a 4-character exponent. */
const MAX_NUMBER_BYTES = 24;
const MAX_ROW_BYTES = 1 + SCORE.length + LOG_RATIO.length + LOG_DENSITY.length + PERCENTILE.length + OOD_FALSE.length + 4 * MAX_NUMBER_BYTES;
/**
 * Below this magnitude a rounded number has at most 15 significant digits, so its shortest
 * round-trip form (what JSON.stringify writes) is its plain decimal digits.
 */
const PLAIN_LIMIT = 1e9;

function put(buf: Uint8Array, pos: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) buf[pos + i] = b[i] as number;
  return pos + b.length;
}

/** "00" to "99": the two ASCII digits of n at 2n and 2n + 1. */
const PAIRS = bytes(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));
const digits = new Uint8Array(16);

/** Writes JSON.stringify(answerNumber(x)) at `pos`; returns the position after it. */
function writeNumber(buf: Uint8Array, pos: number, x: number): number {
  if (!(Math.abs(x) < PLAIN_LIMIT)) return put(buf, pos, bytes(JSON.stringify(answerNumber(x))));
  let m = Math.round(x * SCALE);
  // -0 (a small negative number rounded) is written "0", as JSON.stringify writes it.
  if (m < 0) {
    buf[pos++] = 0x2d;
    m = -m;
  }
  // Below PLAIN_LIMIT both parts fit in 32 bits.
  let whole = Math.floor(m / SCALE);
  const frac = m - whole * SCALE;
  if (whole < 10) {
    buf[pos++] = 0x30 + whole;
  } else if (whole < 100) {
    buf[pos++] = PAIRS[2 * whole] as number;
    buf[pos++] = PAIRS[2 * whole + 1] as number;
  } else {
    let d = 0;
    do {
      const q = (whole / 10) | 0;
      digits[d++] = 0x30 + whole - q * 10;
      whole = q;
    } while (whole > 0);
    while (d > 0) buf[pos++] = digits[--d] as number;
  }
  if (frac === 0) return pos;
  // Six digits, two at a time, then the trailing zeros taken back.
  buf[pos] = 0x2e;
  const high = (frac / 10000) | 0;
  const rest = frac - high * 10000;
  const mid = (rest / 100) | 0;
  const low = rest - mid * 100;
  buf[pos + 1] = PAIRS[2 * high] as number;
  buf[pos + 2] = PAIRS[2 * high + 1] as number;
  buf[pos + 3] = PAIRS[2 * mid] as number;
  buf[pos + 4] = PAIRS[2 * mid + 1] as number;
  buf[pos + 5] = PAIRS[2 * low] as number;
  buf[pos + 6] = PAIRS[2 * low + 1] as number;
  pos += 7;
  while (buf[pos - 1] === 0x30) pos--;
  return pos;
}
