import { z } from 'zod';
import { AppError, escapePointer } from './errors';

/** One field of a record as JSON carries it. */
export const fieldValue = z.union([z.number(), z.string(), z.null()]);

/** The AppError of the first zod issue of a request body, pointing at the offending part. */
export function requestError(issue: z.core.$ZodIssue): AppError {
  const path = issue.path.map((p) => String(p));
  const pointer = '/' + path.map(escapePointer).join('/');
  if (path[0] === 'records' && path.length >= 3) {
    return new AppError('INVALID_RECORD', `record ${path[1]} field "${path[2]}" must be a number, a string or null`, pointer);
  }
  if (path[0] === 'records' && path.length === 2) return new AppError('INVALID_RECORD', `record ${path[1]} must be an object`, pointer);
  return new AppError('INVALID_REQUEST', `${path.length ? path.join('.') : 'body'}: ${issue.message}`, pointer === '/' ? '' : pointer);
}
