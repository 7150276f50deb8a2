import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from './errors';

/** Media types of JSON bodies. */
export const JSON_TYPES = ['application/json', 'application/*+json'];
/** Media types a dataset upload may use besides JSON. */
export const TABLE_TYPES = ['text/csv', 'application/x-ndjson'];

/**
 * Body parsing for one route: parses JSON up to `limit` bytes (413 beyond), then refuses a body it
 * did not parse with 415 unless, with `tables`, it is CSV or NDJSON, which is left unread for the
 * route to parse as it streams in. The parser reads no body of another media type, so the check
 * after it refuses such a body unread; a parsed body skips the check (one media-type parse per
 * request, not two).
 */
export function body(limit: number, options: { tables?: boolean } = {}): RequestHandler {
  const accepted = options.tables ? [...JSON_TYPES, ...TABLE_TYPES] : JSON_TYPES;
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    if (req.body === undefined && !req.is(accepted)) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(', ')}${req.get('content-type') ? `, not ${req.get('content-type')}` : ''}`));
    }
    next();
  };
  const parse = express.json({ limit, type: JSON_TYPES });
  // One layer for both: every layer costs each request a dispatch.
  return (req, res, next) => parse(req, res, (err?: unknown) => (err ? next(err) : check(req, res, next)));
}
