import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { isUtf8 } from 'node:buffer';
import getRawBody from 'raw-body';
import { AppError } from '../errors';

/** Media types of JSON bodies. */
export const JSON_TYPES = ['application/json', 'application/*+json'];
/** Media types a dataset upload may use besides JSON. */
export const TABLE_TYPES = ['text/csv', 'application/x-ndjson'];

/** The answer to a body that is not JSON (or, as body-parser's strict mode has it, whose top level is not an object or array). */
export const notJson = (): AppError => new AppError('MALFORMED_BODY', 'the body is not valid JSON');

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
export function body(limit: number, options: { tables?: boolean } = {}): RequestHandler {
  const accepted = options.tables ? [...JSON_TYPES, ...TABLE_TYPES] : JSON_TYPES;
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    if (req.body === undefined && !req.is(accepted)) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(', ')}${req.get('content-type') ? `, not ${req.get('content-type')}` : ''}`));
    }
    next();
  };
  const parse = express.json({ limit, type: JSON_TYPES, verify: refuseInvalidUtf8 });
  // One layer for both: every layer costs each request a dispatch.
  return (req, res, next) => {
    if (!isPlainJson(req)) return parse(req, res, (err?: unknown) => (err ? next(err) : check(req, res, next)));
    getRawBody(req, { limit, length: req.headers['content-length'] }, (err, bytes) => {
      if (err) return next(err);
      if (!isUtf8(bytes)) return next(notUtf8());
      try {
        // A leading byte-order mark is dropped, as body-parser's decoding drops it.
        req.body = parseStrict(bytes.toString('utf8', bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0));
      } catch {
        return next(notJson());
      }
      next();
    });
  };
}

/**
 * A body body-parser would read as UTF-8 JSON without decompressing it: `application/json` (with
 * at most `; charset=utf-8`, as clients write them), a Content-Length, no Content-Encoding.
 */
function isPlainJson(req: Request): boolean {
  const { 'content-type': type, 'content-length': length, 'content-encoding': encoding } = req.headers;
  return (type === 'application/json' || type === 'application/json; charset=utf-8') && length !== undefined && encoding === undefined;
}

/** The answer to a body whose bytes are not UTF-8 (they are refused, not replaced: see the table bodies' reader). */
export const notUtf8 = (): AppError => new AppError('MALFORMED_BODY', 'the body is not valid UTF-8');

/**
 * body-parser's `verify` hook: refuses a UTF-8 body (as declared, or by default) whose bytes are
 * not UTF-8, which body-parser would decode with replacement characters. Thrown with a `type` of
 * its own, which the error handler turns into {@link notUtf8}.
 */
function refuseInvalidUtf8(_req: unknown, _res: unknown, bytes: Buffer, encoding: string): void {
  if (/^utf-?8$/i.test(encoding) && !isUtf8(bytes)) throw Object.assign(new Error('the body is not valid UTF-8'), { type: NOT_UTF8 });
}

/** The `type` of body-parser's error for a body refused by {@link refuseInvalidUtf8}. */
export const NOT_UTF8 = 'body.not.utf8';

/** JSON.parse as body-parser's strict mode: an empty body is `{}`, a top level other than an object or array is refused. */
function parseStrict(text: string): unknown {
  if (text.length === 0) return {};
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') throw new SyntaxError('the top level is not an object or array');
  return value;
}
