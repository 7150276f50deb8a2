import { NceError } from '../nce';
import { storeConditionOf } from '../store';

/** Every error code the API answers with. */
export type ErrorCode =
  | 'INVALID_RECORD'
  | 'INVALID_REQUEST'
  | 'MALFORMED_BODY'
  | 'BODY_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MODEL_NOT_FOUND'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'MODEL_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'STORAGE_FULL'
  | 'VERSION_DAMAGED'
  | 'INSUFFICIENT_DATA'
  | 'INTERNAL';

const TABLE: Record<ErrorCode, { status: number; title: string }> = {
  INVALID_RECORD: { status: 400, title: 'A record is invalid' },
  INVALID_REQUEST: { status: 400, title: 'The request is invalid' },
  MALFORMED_BODY: { status: 400, title: 'The body could not be parsed' },
  BODY_TOO_LARGE: { status: 413, title: 'The body is too large' },
  BATCH_TOO_LARGE: { status: 413, title: 'Too many records in one request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  MODEL_NOT_FOUND: { status: 404, title: 'No such model' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  UNAUTHORIZED: { status: 401, title: 'An API key is required' },
  FORBIDDEN: { status: 403, title: 'The API key may not do this' },
  MODEL_UNAVAILABLE: { status: 503, title: 'The model cannot be loaded' },
  STORE_UNAVAILABLE: { status: 503, title: 'The store is unreachable' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  STORAGE_FULL: { status: 507, title: 'The store is out of space' },
  VERSION_DAMAGED: { status: 409, title: 'The model version is damaged' },
  INSUFFICIENT_DATA: { status: 422, title: 'The dataset is too small to train on' },
  INTERNAL: { status: 500, title: 'Internal error' },
};

/** An error the API answers with a problem document. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** JSON pointer to the offending part of the request, e.g. `/records/3/amount`. */
    readonly pointer?: string,
    readonly isOperational = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }

  get status(): number {
    return TABLE[this.code].status;
  }
}

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  pointer?: string;
}

/** Maps any thrown value to an AppError: engine record errors keep their record and field. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof NceError) {
    if (e.code === 'INVALID_RECORD') {
      const pointer = e.record !== undefined ? `/records/${e.record}${e.field !== undefined ? `/${escapePointer(e.field)}` : ''}` : undefined;
      return new AppError('INVALID_RECORD', e.message, pointer);
    }
    if (e.code === 'ARTIFACT_INVALID' || e.code === 'ARTIFACT_TAMPERED') return new AppError('MODEL_UNAVAILABLE', e.message, undefined, true, { cause: e });
    if (e.code === 'INVALID_CONFIG') return new AppError('INVALID_REQUEST', e.message, e.field ? `/config/${e.field.replace(/\./g, '/')}` : undefined);
  }
  const errno = (e as { code?: unknown } | null)?.code;
  const condition = storeConditionOf(errno);
  if (condition === 'STORAGE_FULL') return new AppError('STORAGE_FULL', `the store could not write (${String(errno)}): nothing was changed`, undefined, true, { cause: e });
  if (condition === 'STORE_UNAVAILABLE') return new AppError('STORE_UNAVAILABLE', `the store is not writable or not there (${String(errno)}): nothing was changed`, undefined, true, { cause: e });
  if (errno === 'VERSION_NOT_FOUND') return new AppError('NOT_FOUND', e instanceof Error ? e.message : 'no such version');
  if (errno === 'STORE_UNAVAILABLE') return new AppError('STORE_UNAVAILABLE', 'the store (Redis) is unreachable; scoring with loaded models continues', undefined, true, { cause: e });
  return new AppError('INTERNAL', 'internal error', undefined, false, { cause: e });
}

/** The problem document of an error; never carries a stack or an internal message. */
export function toProblem(e: AppError, instance?: string): Problem {
  const { status, title } = TABLE[e.code];
  return {
    type: `/problems/${e.code.toLowerCase().replace(/_/g, '-')}`,
    title,
    status,
    detail: e.isOperational ? e.message : title,
    code: e.code,
    ...(instance ? { instance } : {}),
    ...(e.pointer !== undefined ? { pointer: e.pointer } : {}),
  };
}

/** RFC 6901 escaping of one pointer segment. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
