/** Keys a JSON text repeats within one object, which JSON.parse passes over. */
import { AppError, escapePointer, unescapePointer } from '../errors';

/**
 * The first key a JSON text gives twice within one object, as a JSON pointer to it (`/records/3/a`),
 * or null. JSON.parse keeps a repeated key's last value and drops the others without a word: a
 * record's field, or a whole `records` list, would be lost from an upload that answered 200. For
 * text JSON.parse has accepted only: this does not validate, and on other text (a megabyte of
 * "{") it would work through all of it.
 * A scan of its own: the maintained tokenizer that reports keys (jsonc-parser's visitor) took 6 to
 * 10 times JSON.parse's time on a 1,000-record score body (2.6-4.7 ms against 0.45 ms), more than
 * scoring the batch's Gaussian; this one jumps from quote to quote and decodes only keys with
 * escapes (`"\u0061"` is `"a"`).
 */
export function repeatedKey(text: string): string | null {
  // Per open object or array, outermost first: whether it is an object, its first key and, from
  // its second on, all of them (most objects of a body are records of a few keys, or none: a set
  // each would cost more than the scan), and the key or index being read.
  const isObject: boolean[] = [];
  const first: (string | undefined)[] = [];
  const seen: (Set<string> | undefined)[] = [];
  const at: (string | number)[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      let next = end + 1;
      while (next < n && isSpace(text.charCodeAt(next))) next++;
      const depth = isObject.length - 1;
      if (text.charCodeAt(next) === COLON && depth >= 0 && isObject[depth]) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const firstKey = first[depth];
        if (firstKey === undefined) {
          first[depth] = key;
        } else {
          let keys = seen[depth];
          if (keys === undefined) keys = seen[depth] = new Set([firstKey]);
          if (keys.has(key)) return pointer([...at.slice(0, depth), key]);
          keys.add(key);
        }
        at[depth] = key;
        i = next + 1;
      } else {
        i = end + 1;
      }
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      isObject.push(c === OPEN_OBJECT);
      first.push(undefined);
      seen.push(undefined);
      at.push(c === OPEN_OBJECT ? '' : 0);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      isObject.pop();
      first.pop();
      seen.pop();
      at.pop();
    } else if (c === COMMA && isObject.length > 0 && !isObject[isObject.length - 1]) {
      (at[at.length - 1] as number)++;
    }
    i++;
  }
  return null;
}

/** The answer to a JSON body (or an NDJSON `line`) that gives a key twice within one object (`where`: its pointer, see {@link repeatedKey}). */
export function repeatedKeyError(where: string, line?: number): AppError {
  const key = unescapePointer(where.slice(where.lastIndexOf('/') + 1));
  return new AppError('MALFORMED_BODY', `${line === undefined ? 'the body' : `NDJSON line ${line}`} gives the key ${JSON.stringify(key)} twice in one object (at ${where}): JSON readers keep one of the two values and drop the other; send each key once`, where);
}

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The index of the quote that closes the string opening at `open` (one not escaped by an odd run of backslashes). */
function closingQuote(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  while (end > 0) {
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
  return end < 0 ? text.length : end;
}

function pointer(segments: (string | number)[]): string {
  return segments.map((s) => `/${escapePointer(String(s))}`).join('');
}
