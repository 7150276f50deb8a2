import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from './errors';

/** Media types of JSON bodies. */
export const JSON_TYPES = ['application/json', 'application/*+json'];
/** Media types a dataset upload may use besides JSON. */
export const TABLE_TYPES = ['text/csv', 'application/x-ndjson'];

/**
 * Body parsing for one route: refuses other media types with 415 before reading the body, then
 * parses JSON up to `limit` bytes (413 beyond). With `tables`, CSV and NDJSON are accepted too and
 * left unread, for the route to parse as they stream in.
 */
export function body(limit: number, options: { tables?: boolean } = {}): RequestHandler[] {
  const accepted = options.tables ? [...JSON_TYPES, ...TABLE_TYPES] : JSON_TYPES;
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.is(accepted)) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(', ')}${req.get('content-type') ? `, not ${req.get('content-type')}` : ''}`));
    }
    next();
  };
  return [check, express.json({ limit, type: JSON_TYPES })];
}
