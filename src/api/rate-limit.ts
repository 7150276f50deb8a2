import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { ApiKey } from '../config';
import { AppError } from '../errors';
import { presentedKey } from './auth';

/**
 * Requests per minute per API key (clients without a valid key: per IP address), counted in this
 * process. Over the limit: 429 `RATE_LIMITED` with a Retry-After. The app mounts it only when a
 * limit is configured (`RATE_LIMIT_PER_MINUTE` 0, the default, turns it off).
 * @param perMinute - at least 1
 */
export function rateLimitPerKey(perMinute: number, keys: readonly ApiKey[] = []): RequestHandler {
  const digest = (k: string): string => createHash('sha256').update(k).digest('hex');
  const known = new Set(keys.map((k) => digest(k.key)));
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req: Request) => {
      // Read as the auth check reads it (any case of the scheme, any spaces): a valid key gets its own bucket whatever its spelling.
      const key = presentedKey(req);
      // Only configured keys get a bucket of their own (hashed: the limiter never holds a key);
      // anything else, made-up keys included, shares its IP address's.
      const d = key ? digest(key) : null;
      return d !== null && known.has(d) ? `key:${d}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, _res, next) => next(new AppError('RATE_LIMITED', `more than ${perMinute} requests in a minute; retry after the Retry-After header's seconds`)),
  });
}
