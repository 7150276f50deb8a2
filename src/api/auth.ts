import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiKey } from '../config';
import { AppError } from '../errors';

/** What a route needs: `score` routes accept score and admin keys, `admin` routes only admin keys. */
export type Scope = 'score' | 'admin';

/** What a request may do: `open` when no keys are configured, else its key's scope (null: no valid key). */
export type Access = 'open' | Scope;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The key a request presents: `Authorization: Bearer KEY` (the scheme in any case, as RFC 9110 has it) or `X-API-Key: KEY` ('' for none). */
export function presentedKey(req: Request): string {
  const bearer = /^bearer +(.*)$/i.exec(req.get('authorization') ?? '');
  return bearer ? bearer[1].trim() : (req.get('x-api-key') ?? '');
}

/**
 * The scope of a key among the configured ones, or null. Keys are compared as sha256 digests with
 * timingSafeEqual, so the comparison takes the same time whatever the key, and every configured
 * key is compared.
 */
function scopeOfKey(stored: readonly { scope: Scope; digest: Buffer }[], presented: string): Scope | null {
  const d = digest(presented);
  let match: Scope | null = null;
  for (const k of stored) if (timingSafeEqual(k.digest, d)) match = k.scope;
  return match;
}

/**
 * The auth check for one scope, as the handlers to put before a route's own: none with no keys
 * configured (every request passes, and costs no layer), else one.
 */
export function requireScope(keys: readonly ApiKey[] | undefined, scope: Scope): RequestHandler[] {
  const stored = (keys ?? []).map((k) => ({ scope: k.scope, digest: digest(k.key) }));
  if (stored.length === 0) return [];
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    const presented = presentedKey(req);
    if (!presented) return next(new AppError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>" or "X-API-Key"'));
    const match = scopeOfKey(stored, presented);
    if (match === null) return next(new AppError('UNAUTHORIZED', 'the API key is not valid'));
    if (scope === 'admin' && match !== 'admin') return next(new AppError('FORBIDDEN', 'this needs an admin key'));
    next();
  };
  return [check];
}

/** What a request's key may do (for routes that show more to admin keys), after {@link requireScope} let it in. */
export function accessOf(keys: readonly ApiKey[] | undefined): (req: Request) => Access | null {
  const stored = (keys ?? []).map((k) => ({ scope: k.scope, digest: digest(k.key) }));
  return (req) => (stored.length === 0 ? 'open' : scopeOfKey(stored, presentedKey(req)));
}
