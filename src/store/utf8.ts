/** UTF-16's byte-order marks, little and big endian: what Excel's "Unicode text" and Windows tools write first. */
const UTF16_MARKS = [
  [0xff, 0xfe],
  [0xfe, 0xff],
];

/** What text with a NUL between most of its characters is, and what fixes it. */
const UTF16_WITHOUT_MARK = 'looks like UTF-16 text without its byte-order mark (a NUL byte beside most characters), not UTF-8: save it as UTF-8 (for example with iconv -f UTF-16LE -t UTF-8)';

/** The share of NUL bytes (or characters) among the first ones: UTF-16 text of Latin letters is half NULs; UTF-8 text has none. */
function nulShare(units: ArrayLike<number> | string): number {
  const n = Math.min(units.length, 512);
  let nul = 0;
  for (let i = 0; i < n; i++) if ((typeof units === 'string' ? units.charCodeAt(i) : units[i]) === 0) nul++;
  return n === 0 ? 0 : nul / n;
}

/**
 * Words for text that decoded as UTF-8 but holds a NUL beside most characters (UTF-16 of Latin
 * letters without its byte-order mark, which is valid UTF-8 byte for byte), or null.
 */
export function utf16Words(text: string, what: string): string | null {
  return nulShare(text) > 0.2 ? `${what} ${UTF16_WITHOUT_MARK}` : null;
}

/**
 * The offset of the first byte of `bytes` that does not belong to UTF-8 text, or -1 when there is
 * none. A sequence cut off at the end counts as invalid only when `final`.
 */
function firstInvalidByte(bytes: Uint8Array, final: boolean): number {
  const text = new TextDecoder('utf-8').decode(bytes, { stream: !final });
  // Each invalid sequence decodes to U+FFFD; so does a U+FFFD the text really holds (EF BF BD).
  let from = 0;
  for (;;) {
    const at = text.indexOf('\ufffd', from);
    if (at < 0) return -1;
    const offset = Buffer.byteLength(text.slice(0, at), 'utf8');
    if (!(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
    from = at + 1;
  }
}

/** Where text that is not UTF-8 comes from, for the words of {@link notUtf8Words}. */
export interface Utf8Source {
  /** What the bytes are: "the file", "the body". */
  what: string;
  /** How many bytes came before these (a body read in chunks); 0 by default. */
  start?: number;
  /** Whether these are the last bytes: else a character cut off at their end is not yet wrong. */
  final?: boolean;
  /** Whether these bytes start the text, so their lines can be counted (false: no line named). */
  whole?: boolean;
}

/**
 * Why bytes that are not UTF-8 are not, in words a user can act on: UTF-16 (its byte-order mark
 * first) with the conversion that fixes it, else the first byte that is not UTF-8, its offset and,
 * when the bytes start the text, its line, with the usual cause (Latin-1 or Windows-1252).
 */
export function notUtf8Words(bytes: Uint8Array, source: Utf8Source): string {
  const { what, start = 0, final = true, whole = start === 0 } = source;
  if (start === 0 && UTF16_MARKS.some(([a, b]) => bytes[0] === a && bytes[1] === b)) {
    return `${what} is UTF-16 text (it starts with UTF-16's byte-order mark), not UTF-8: save it as UTF-8 (for example with iconv -f UTF-16 -t UTF-8)`;
  }
  if (start === 0 && nulShare(bytes.subarray(0, 512)) > 0.2) return `${what} ${UTF16_WITHOUT_MARK}`;
  const at = firstInvalidByte(bytes, final);
  const fix = 'save it as UTF-8 (from Latin-1 or Windows-1252 with iconv -f WINDOWS-1252 -t UTF-8)';
  if (at < 0) return `${what} is not UTF-8 text: ${fix}`;
  let line = 1;
  for (let i = 0; i < at && whole; i++) if (bytes[i] === 0x0a) line++;
  const byte = `0x${bytes[at].toString(16).toUpperCase().padStart(2, '0')}`;
  return `${what} is not UTF-8 text from ${whole ? `line ${line}, ` : ''}byte ${start + at + 1} (${byte}) on: ${fix}`;
}
