import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from './errors';

/** Media types of JSON bodies. */
export const JSON_TYPES = ['application/json', 'application/*+json'];
/** Media types a dataset upload may use besides JSON. */
export const TABLE_TYPES = ['text/csv', 'application/x-ndjson'];

/**
 * Body parsing for one route: refuses other media types with 415 before reading the body, then
 * parses JSON (and, with `text`, CSV or NDJSON as text) up to `limit` bytes (413 beyond).
 */
export function body(limit: number, options: { text?: boolean } = {}): RequestHandler[] {
  const accepted = options.text ? [...JSON_TYPES, ...TABLE_TYPES] : JSON_TYPES;
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.is(accepted)) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(', ')}${req.get('content-type') ? `, not ${req.get('content-type')}` : ''}`));
    }
    next();
  };
  const parsers = [express.json({ limit, type: JSON_TYPES })];
  if (options.text) parsers.push(express.text({ limit, type: TABLE_TYPES }));
  return [check, ...parsers];
}
