import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiKey } from '../config';
import { AppError } from './errors';

/** What a route needs: `score` routes accept score and admin keys, `admin` routes only admin keys. */
export type Scope = 'score' | 'admin';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The auth check for one scope, as the handlers to put before a route's own: none with no keys
 * configured (every request passes, and costs no layer), else one. Keys are compared as sha256
 * digests with timingSafeEqual, so the comparison takes the same time whatever the key, and every
 * configured key is compared.
 */
export function requireScope(keys: readonly ApiKey[] | undefined, scope: Scope): RequestHandler[] {
  const stored = (keys ?? []).map((k) => ({ scope: k.scope, digest: digest(k.key) }));
  if (stored.length === 0) return [];
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : (req.get('x-api-key') ?? '');
    if (!presented) return next(new AppError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>" or "X-API-Key"'));
    const d = digest(presented);
    let match: ApiKey['scope'] | null = null;
    for (const k of stored) if (timingSafeEqual(k.digest, d)) match = k.scope;
    if (match === null) return next(new AppError('UNAUTHORIZED', 'the API key is not valid'));
    if (scope === 'admin' && match !== 'admin') return next(new AppError('FORBIDDEN', 'this needs an admin key'));
    next();
  };
  return [check];
}
