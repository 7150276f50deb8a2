import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { AppError } from './errors';

/**
 * Requests per minute per API key (clients without a key: per IP address), counted in this
 * process. `perMinute` 0 turns it off. Over the limit: 429 `RATE_LIMITED` with a Retry-After.
 */
export function rateLimitPerKey(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req: Request) => {
      const header = req.get('authorization') ?? '';
      const key = header.startsWith('Bearer ') ? header.slice(7) : req.get('x-api-key');
      // Keys are hashed: the limiter's memory never holds a key.
      return key ? `key:${createHash('sha256').update(key).digest('hex')}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, _res, next) => next(new AppError('RATE_LIMITED', `more than ${perMinute} requests in a minute; retry after the Retry-After header's seconds`)),
  });
}
