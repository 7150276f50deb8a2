import { isUtf8 } from 'node:buffer';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import iconv from 'iconv-lite';
import getRawBody from 'raw-body';
import { AppError } from '../errors';
import { repeatedKey, repeatedKeyError } from './json-keys';
import { notUtf8Words, utf16Words, type Utf8Source } from '../store';

/** Media types of JSON bodies. */
export const JSON_TYPES = ['application/json', 'application/*+json'];
/** NDJSON's media types: JSON Lines tools send the other spellings of the same format. */
export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'];
/** Media types a dataset upload may use besides JSON. */
export const TABLE_TYPES = ['text/csv', ...NDJSON_TYPES];

/**
 * The answer to a body that is not JSON (or, as body-parser's strict mode has it, whose top level
 * is not an object or array). With the body's text at hand, one that is CSV or NDJSON sent as JSON
 * is told which media type to send it with.
 */
export const notJson = (text?: string): AppError => {
  const hint = text === undefined ? '' : tableHint(text);
  return new AppError('MALFORMED_BODY', `the body is not a JSON object or array: it is not valid JSON, or its top level is a bare value ("text", a number, true)${hint}`);
};

/** What a body that is not JSON looks like instead, when it is a table this API reads under another media type. */
function tableHint(text: string): string {
  const utf16 = utf16Words(text, 'it');
  if (utf16) return `; ${utf16}`;
  const body = text.replace(/^\uFEFF/, '').trimStart();
  const lines = body.split('\n', 3).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length >= 2 && lines.every(isRecordLine)) return '; it looks like NDJSON (one JSON object a line): send it with Content-Type: application/x-ndjson';
  // A header row: names, bare or quoted (pandas' quoting=ALL, Excel), separated by commas.
  if (lines.length >= 1 && /^("[^"]*"|[^"[{,][^,]*)(,("[^"]*"|[^,]*))+$/.test(lines[0]) && !/^"[^"]*"\s*:/.test(lines[0])) return '; it looks like CSV: send it with Content-Type: text/csv';
  return '';
}

/** A line of NDJSON records: one JSON object, not a score or dataset request of its own ({"records": ...}). */
function isRecordLine(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !('records' in v) && !('columns' in v);
  } catch {
    return false;
  }
}

/**
 * Body parsing for one route: parses JSON up to `limit` bytes (413 beyond), then refuses a body it
 * did not parse with 415 unless, with `tables`, it is CSV or NDJSON, which is left unread for the
 * route to parse as it streams in. The parser reads no body of another media type, so the check
 * after it refuses such a body unread; a parsed body skips the check (one media-type parse per
 * request, not two).
 *
 * The common case is read directly (see {@link isPlainJson}): with raw-body, the reader body-parser
 * itself uses, then JSON.parse, as body-parser's strict mode does. That skips body-parser's
 * media-type and charset parsing, which measured ~7% of single-record scoring throughput. Both paths
 * give the same answers (a property test holds them together), with one difference in timing: a body
 * whose Content-Length is over the limit is refused with 413 as soon as its headers arrive, where
 * body-parser reads it first.
 */
export function body(limit: number, options: { tables?: boolean; setting?: BodyLimitSetting; repeatedKeys?: 'passed' } = {}): RequestHandler {
  const accepted = options.tables ? [...JSON_TYPES, ...TABLE_TYPES] : JSON_TYPES;
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    if (req.body === undefined && !req.is(accepted)) {
      // NDJSON named once, by its usual type: the other spellings are taken too.
      const named = accepted.filter((t) => !NDJSON_TYPES.includes(t) || t === NDJSON_TYPES[0]);
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send ${named.join(', ')}${req.get('content-type') ? `, not ${req.get('content-type')}` : ''}`));
    }
    next();
  };
  // A JSON object that gives a key twice is refused (see repeatedKey), unless the route says
  // otherwise: scoring, where the scan would cost about what JSON.parse does.
  const keysOnce = options.repeatedKeys !== 'passed';
  const parse = express.json({ limit, type: JSON_TYPES, verify: keysOnce ? keepBytes : refuseInvalidUtf8 });
  // body-parser's and raw-body's own error for a body over the limit, told as ours: the limit's setting is known here.
  const failed = (err: unknown, next: NextFunction): void => next((err as { type?: unknown } | null)?.type === 'entity.too.large' ? bodyTooLarge(limit, options.setting) : err);
  // One layer for both: every layer costs each request a dispatch.
  return (req, res, next) => {
    if (hasNoBody(req)) return next(new AppError('MALFORMED_BODY', `the request has no body: send ${options.tables ? 'the records as JSON, CSV or NDJSON' : 'a JSON object'}`));
    if (isCompressedJson(req)) {
      readCompressedJson(req, limit, options.setting, keysOnce).then((value) => {
        req.body = value;
        next();
      }, next);
      return;
    }
    if (!isPlainJson(req)) {
      return parse(req, res, (err?: unknown) => {
        if (err) return failed(err, next);
        // Scanned once body-parser's JSON.parse has accepted the text: never text that is not JSON.
        const kept = keptBytes.get(req);
        const twice = kept ? repeatedKey(iconv.decode(kept.bytes, kept.encoding)) : null;
        if (twice !== null) return next(repeatedKeyError(twice));
        check(req, res, next);
      });
    }
    getRawBody(req, { limit, length: req.headers['content-length'] }, (err, bytes) => {
      if (err) return failed(err, next);
      if (!isUtf8(bytes)) return next(notUtf8(bytes));
      // A leading byte-order mark is dropped, as body-parser's decoding drops it.
      const text = bytes.toString('utf8', bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0);
      try {
        req.body = parseStrict(text);
      } catch {
        return next(notJson(text));
      }
      const twice = keysOnce ? repeatedKey(text) : null;
      next(twice === null ? undefined : repeatedKeyError(twice));
    });
  };
}

/** How long a request's body may arrive at any pace before {@link MIN_BODY_BYTES_PER_SECOND} holds. */
export const BODY_GRACE_MS = 10_000;

/**
 * Least average pace of a request's body, from its start, once {@link BODY_GRACE_MS} has passed.
 * A body arriving slower holds its connection, and the connections are bounded
 * (HTTP_MAX_CONNECTIONS): two clients sending a byte every two seconds held both upload places for
 * HTTP_REQUEST_TIMEOUT_MS (2 minutes), and 4,096 such scoring requests held every connection, the
 * health probes' too, for as long (outside probes). A link this slow would take a quarter of an
 * hour for a megabyte.
 */
export const MIN_BODY_BYTES_PER_SECOND = 1024;

/**
 * Rejects once the body of `req` arrives slower than {@link MIN_BODY_BYTES_PER_SECOND} on average
 * after {@link BODY_GRACE_MS} (read from its socket's byte count: a listener on the body would
 * start it flowing before its parser reads it), with 408 REQUEST_TIMEOUT saying `holding`: what
 * the slow body held and what became of it. `stop` ends the watch.
 */
export function stalled(req: Request, holding: string): { stopped: Promise<never>; stop: () => void } {
  const started = Date.now();
  const from = req.socket.bytesRead;
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      if (req.complete) return clearInterval(timer);
      if (seconds * 1000 < BODY_GRACE_MS) return;
      if ((req.socket.bytesRead - from) / seconds >= MIN_BODY_BYTES_PER_SECOND) return;
      clearInterval(timer);
      reject(new AppError('REQUEST_TIMEOUT', `the body arrived at under ${MIN_BODY_BYTES_PER_SECOND} bytes a second on average after ${BODY_GRACE_MS / 1000} s, ${holding}`));
    }, 1000);
    timer.unref();
  });
  stopped.catch(() => undefined);
  return { stopped, stop: () => clearInterval(timer) };
}

/**
 * Watches the pace of every request body from the first middleware on: a body too slow is
 * answered 408 REQUEST_TIMEOUT (by `answer`) at once, the connection closed after the answer,
 * whether a route reads it as JSON, streams it as CSV or NDJSON, or refused the request before
 * reading it (a 401, a 404: the body is then drained so the client gets its answer, and a slow one
 * held the connection for HTTP_REQUEST_TIMEOUT_MS). Where an answer was already sent, the
 * connection is closed. `res.locals.paceCut` marks it: the route's read fails after, with no one
 * to answer. A dataset upload that has its place watches its own pace (`res.locals.paceWatched`,
 * see `fewAtOnce`), and says what it held.
 */
export function bodyPace(answer: (e: unknown, req: Request, res: Response) => void): RequestHandler {
  return (req, res, next) => {
    if (req.complete || !(Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined)) return next();
    const slow = stalled(req, 'holding a connection of the few the service keeps (HTTP_MAX_CONNECTIONS): nothing was done; send it again over a faster link');
    // Not at the answer's end: a body refused unread is still arriving (drained, see the error
    // middleware), and must keep its pace. The watch stops itself once the body is in.
    req.once('close', slow.stop);
    slow.stopped.catch((e: unknown) => {
      if (res.locals.paceWatched === true) return;
      res.locals.paceCut = true;
      if (res.headersSent) {
        req.socket.destroy();
        return;
      }
      res.set('connection', 'close');
      answer(e, req, res);
    });
    next();
  };
}

/** A request without a body, or with an empty one (Content-Length 0), which no route of this API takes. */
function hasNoBody(req: Request): boolean {
  const { 'content-length': length, 'transfer-encoding': chunked } = req.headers;
  return chunked === undefined && (length === undefined || length === '0');
}

/**
 * A body body-parser would read as UTF-8 JSON without decompressing it: `application/json` (with
 * at most `; charset=utf-8`, as clients write them), a Content-Length, no Content-Encoding.
 */
function isPlainJson(req: Request): boolean {
  const { 'content-type': type, 'content-length': length, 'content-encoding': encoding } = req.headers;
  return (type === 'application/json' || type === 'application/json; charset=utf-8') && length !== undefined && encoding === undefined;
}

/** The charset the Content-Type declares, lower case, or undefined for none. */
export function charsetOf(req: Request): string | undefined {
  return /;\s*charset=([^;]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.trim().toLowerCase();
}

/** Whether a charset name is UTF-8 ("utf-8", "UTF8"). */
export function isUtf8Charset(charset: string): boolean {
  return /^utf-?8$/i.test(charset);
}

/** The Content-Encoding, lower case; "identity" when there is none. */
function contentEncodingOf(req: Request): string {
  return (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/** The setting that limits a request body's bytes: dataset uploads have their own. */
export type BodyLimitSetting = 'MAX_BODY_BYTES' | 'MAX_DATASET_BYTES';

/** The answer to a body over its limit of `limit` bytes (the `setting`'s), however it was found out. */
export const bodyTooLarge = (limit: number, setting: BodyLimitSetting = 'MAX_BODY_BYTES'): AppError =>
  new AppError(
    'BODY_TOO_LARGE',
    `the body is larger than the limit of ${limit} bytes (${setting}): ${setting === 'MAX_DATASET_BYTES' ? 'send fewer rows a request and append the rest with POST /v1/datasets/{name}/records' : 'send fewer records a request'}, or raise ${setting}`,
  );

/**
 * The answer to a body whose bytes are not UTF-8 (they are refused, not replaced: see the table
 * bodies' reader), saying where and why when the bytes are at hand (see `notUtf8Words`).
 */
export const notUtf8 = (bytes?: Uint8Array, at: Omit<Utf8Source, 'what'> = {}): AppError =>
  new AppError('MALFORMED_BODY', bytes ? notUtf8Words(bytes, { what: 'the body', ...at }) : 'the body is not valid UTF-8');

/**
 * body-parser's `verify` hook: refuses a UTF-8 body (as declared, or by default) whose bytes are
 * not UTF-8, which body-parser would decode with replacement characters. Thrown with a `type` of
 * its own, which the error handler turns into {@link notUtf8}.
 */
function refuseInvalidUtf8(_req: unknown, _res: unknown, bytes: Buffer, encoding: string): void {
  if (isUtf8Charset(encoding)) {
    if (!isUtf8(bytes)) throw Object.assign(new Error('the body is not valid UTF-8'), { type: NOT_UTF8, answer: notUtf8(bytes) });
    return;
  }
  const wide = wideProblem(bytes, encoding);
  if (wide !== null) throw Object.assign(new Error(wide.message), { type: NOT_UTF8, answer: wide });
}

/**
 * Why a body declared in a charset other than UTF-8 cannot be read as it says, or null. body-parser
 * decodes any "utf-" charset iconv-lite knows, and decodes what is not well formed in it with
 * replacement characters (or drops it): a stray byte, half of a surrogate pair, a code point past
 * U+10FFFF would be stored as a new category. UTF-16 and UTF-32 must be well formed: the text
 * iconv-lite decodes (in the byte order it takes, from the name, a byte-order mark or a guess) holds
 * no half of a surrogate pair and encodes back to the very bytes sent. Any other (UTF-7) is refused.
 */
function wideProblem(bytes: Buffer, encoding: string): AppError | null {
  const charset = encoding.toLowerCase();
  const width = /^utf-16(le|be)?$/.test(charset) ? 16 : /^utf-32(le|be)?$/.test(charset) ? 32 : null;
  if (width === null) return new AppError('UNSUPPORTED_MEDIA_TYPE', `the body's charset "${encoding}" is not supported: send UTF-8 (charset=utf-8, or no charset)`);
  const text = iconv.decode(bytes, charset);
  const same = ['le', 'be'].some((order) => ['', '\ufeff'].some((mark) => iconv.encode(mark + text, `utf-${width}${order}`).equals(bytes)));
  return same && !/\p{Cs}/u.test(text) ? null : new AppError('MALFORMED_BODY', `the body is not well-formed UTF-${width}, as its charset (${encoding}) says it is: send UTF-8`);
}

/** The `type` of body-parser's error for a body refused by {@link refuseInvalidUtf8}. */
export const NOT_UTF8 = 'body.not.utf8';

/** The bytes and charset of each body {@link keepBytes} saw, till body-parser has parsed it. */
const keptBytes = new WeakMap<object, { bytes: Buffer; encoding: string }>();

/**
 * body-parser's `verify` hook where a key given twice is refused: {@link refuseInvalidUtf8}, and
 * the bytes kept, to be decoded as body-parser decodes them (iconv-lite, so UTF-16 and UTF-32
 * too) and scanned once its JSON.parse has accepted them.
 */
function keepBytes(req: object, res: unknown, bytes: Buffer, encoding: string): void {
  refuseInvalidUtf8(req, res, bytes, encoding);
  keptBytes.set(req, { bytes, encoding });
}

/** JSON.parse as body-parser's strict mode: an empty body is `{}`, a top level other than an object or array is refused. */
function parseStrict(text: string): unknown {
  if (text.length === 0) return {};
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') throw new SyntaxError('the top level is not an object or array');
  return value;
}

/** Decompressors of the Content-Encodings a body may have. */
const DECOMPRESSORS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The request body as UTF-8 text, decompressed as its Content-Encoding says, refusing more than
 * `limit` bytes (first by Content-Length, then as they come, compressed and decompressed alike).
 * Bytes that are not UTF-8 are refused, not replaced: a replaced byte would be stored as a new
 * category, and the same value sent correctly would then look unseen.
 */
export async function* bodyText(req: Request, limit: number, setting?: BodyLimitSetting): AsyncGenerator<string> {
  const tooLarge = (): AppError => bodyTooLarge(limit, setting);
  if (Number(req.get('content-length') ?? 0) > limit) throw tooLarge();
  const encoding = contentEncodingOf(req);
  const decompressor = encoding === 'identity' ? null : DECOMPRESSORS[encoding];
  if (decompressor === undefined) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding "${encoding}": send gzip, deflate, br or none`);
  const inflate = decompressor?.() ?? null;
  const text = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  const decode = (chunk: Buffer | null): string => {
    try {
      return chunk === null ? text.decode() : text.decode(chunk, { stream: true });
    } catch {
      // Where in the body: the lines of the first chunk are counted, later ones only by byte.
      throw chunk === null ? new AppError('MALFORMED_BODY', 'the body is not valid UTF-8: it ends within a character') : notUtf8(chunk, { start: bytes - chunk.length, final: false });
    }
  };
  // What arrives counts as well as what it inflates to: a stream of empty compressed blocks is
  // small inflated and as large as the client likes on the wire.
  let received = 0;
  const onReceived = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limit) inflate?.destroy(tooLarge());
  };
  const onError = (e: Error): void => {
    inflate?.destroy(e);
  };
  if (inflate) {
    req.on('data', onReceived);
    req.once('error', onError);
    req.pipe(inflate);
  }
  try {
    // Not destroyed when parsing stops early: the error handler drains the rest, so the client gets the answer.
    for await (const chunk of (inflate ?? req).iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limit) throw tooLarge();
      yield decode(chunk);
    }
  } catch (e: unknown) {
    // zlib's and brotli's errors: the bytes are not in the Content-Encoding given.
    if (inflate && !(e instanceof AppError)) {
      throw new AppError('MALFORMED_BODY', `the body could not be decompressed as its Content-Encoding (${encoding}) says`);
    }
    throw e;
  } finally {
    if (inflate) {
      req.off('data', onReceived);
      req.off('error', onError);
      req.unpipe(inflate);
      inflate.destroy();
    }
  }
  yield decode(null);
}

/**
 * A compressed JSON body in UTF-8 (as declared, or by default), read by {@link bodyText}: its limit
 * then holds for the bytes received as well as inflated, which body-parser's inflating does not.
 */
function isCompressedJson(req: Request): boolean {
  if (contentEncodingOf(req) === 'identity' || !req.is(JSON_TYPES)) return false;
  const charset = charsetOf(req);
  return charset === undefined || isUtf8Charset(charset);
}

/** A compressed JSON body parsed as body-parser's strict mode does. */
async function readCompressedJson(req: Request, limit: number, setting: BodyLimitSetting | undefined, keysOnce: boolean): Promise<unknown> {
  let text = '';
  for await (const part of bodyText(req, limit, setting)) text += part;
  let value: unknown;
  try {
    value = parseStrict(text);
  } catch {
    throw notJson(text);
  }
  const twice = keysOnce ? repeatedKey(text) : null;
  if (twice !== null) throw repeatedKeyError(twice);
  return value;
}
