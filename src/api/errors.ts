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

const TABLE: Record<ErrorCode, { status: number; title: string; help: string }> = {
  INVALID_RECORD: { status: 400, title: 'A record is invalid', help: 'A field has the wrong type (text where the model or dataset has numbers, a list or an object where a value belongs), a field the model needs is missing, or an append breaks the dataset\'s contract. The pointer names the record (or row) and the field; nothing was scored or stored.' },
  INVALID_REQUEST: { status: 400, title: 'The request is invalid', help: 'The body or query does not have the documented shape: an unknown key, a missing one, a value out of range (a training config key, a cron expression, a time zone). The pointer names the part, and a mistyped config key gets the nearest valid one suggested.' },
  MALFORMED_BODY: { status: 400, title: 'The body could not be parsed', help: 'The body is not valid JSON, CSV or NDJSON (a ragged CSV row, a line that is not JSON). The detail names the line.' },
  BODY_TOO_LARGE: { status: 413, title: 'The body is too large', help: 'The body is over MAX_BODY_BYTES (MAX_DATASET_BYTES for dataset uploads). Send fewer records per request.' },
  BATCH_TOO_LARGE: { status: 413, title: 'Too many records in one request', help: 'A scoring request holds more than MAX_BATCH_RECORDS records. Split it into several requests.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type', help: 'Send application/json (or text/csv or application/x-ndjson where the route takes tables), in UTF-8.' },
  MODEL_NOT_FOUND: { status: 404, title: 'No such model', help: 'No model of that name has a current version. List the models with GET /v1/models; train one with POST /v1/models/{name}/train.' },
  NOT_FOUND: { status: 404, title: 'Not found', help: 'The route, dataset, version, job or schedule named does not exist (or was deleted meanwhile).' },
  UNAUTHORIZED: { status: 401, title: 'An API key is required', help: 'API_KEYS is set: send a key as Authorization: Bearer KEY or X-API-Key: KEY.' },
  FORBIDDEN: { status: 403, title: 'The API key may not do this', help: 'A score key may score and read; training, uploads, promotes and deletes need an admin key.' },
  MODEL_UNAVAILABLE: { status: 503, title: 'The model cannot be loaded', help: 'The current version could not be loaded (a damaged artifact, or the registry is unreachable and this replica does not hold the model). A damaged version stays listed with the reason; promote another one.' },
  STORE_UNAVAILABLE: { status: 503, title: 'The store is unreachable', help: 'The model registry or dataset store cannot be read or written (Redis is down, or the volume is read-only or gone). Loaded models keep scoring; retry the write once the store is back.' },
  RATE_LIMITED: { status: 429, title: 'Too many requests', help: 'This key sent more than RATE_LIMIT_PER_MINUTE requests in the last minute. Retry after the time the Retry-After header gives.' },
  STORAGE_FULL: { status: 507, title: 'The store is out of space', help: 'The disk (or Redis memory) is full: nothing was changed. Free space, or lower MODEL_KEEP_VERSIONS, and retry.' },
  VERSION_DAMAGED: { status: 409, title: 'The model version is damaged', help: 'The version\'s files do not match their checksums or are incomplete, so it cannot be promoted. Promote another version or retrain.' },
  INSUFFICIENT_DATA: { status: 422, title: 'The dataset is too small to train on', help: 'Training needs at least 20 records. Append more to the dataset and train again.' },
  INTERNAL: { status: 500, title: 'Internal error', help: 'Something failed that should not have. The service logged it with the request id; the answer carries no detail.' },
};

/** The path of a code's problem page, as the problem documents' `type` gives it. */
export function problemType(code: ErrorCode): string {
  return `/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}

/** Every code with its status, title and what it means: the problem pages and the README table read it. */
export function errorTable(): ({ code: ErrorCode } & (typeof TABLE)[ErrorCode])[] {
  return (Object.keys(TABLE) as ErrorCode[]).map((code) => ({ code, ...TABLE[code] }));
}

/** The short HTML page of a problem type (`/problems/{slug}`), or null when no code has that slug. */
export function problemPage(slug: string): string | null {
  const entry = errorTable().find((e) => problemType(e.code) === `/problems/${slug}`);
  if (!entry) return null;
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(entry.code)}: ${esc(entry.title)}</title></head><body><h1>${esc(entry.title)}</h1><p><code>${esc(entry.code)}</code>, HTTP ${entry.status}</p><p>${esc(entry.help)}</p><p><a href="/docs">API documentation</a></p></body></html>`;
}

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
    type: problemType(e.code),
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
