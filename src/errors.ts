/**
 * One error model for the whole service: every code a request, a training job or the command line
 * fails with, its HTTP status, whether a failed job is retried, and what it means. Errors are
 * raised one way ({@link AppError}) and read one way ({@link describe}); the API's problem
 * documents, the job queues, the BullMQ worker and the CLI all translate through it.
 *
 * The engine (`src/nce`) owns its codes' names only ({@link NceErrorCode}): it knows nothing of
 * HTTP or retries, and this table gives each of them a status and a retry policy. A code added to
 * the engine fails to compile here until it has a row.
 */
import { messageOf, NceError, type NceErrorCode } from './nce';

/** What a code means to each caller. */
interface CodeInfo {
  /** The HTTP status of an answer with this code. */
  status: number;
  /** Whether a training job that failed with it is tried again (the infrastructure, not the input, failed). */
  retry: boolean;
  title: string;
  help: string;
}

/** Codes only the service raises; the engine's are {@link NceErrorCode}. */
type ServiceCode =
  | 'INVALID_REQUEST'
  | 'MALFORMED_BODY'
  | 'MALFORMED_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'BODY_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_ACCEPTABLE'
  | 'METHOD_NOT_ALLOWED'
  | 'MODEL_NOT_FOUND'
  | 'VERSION_NOT_FOUND'
  | 'DATASET_NOT_FOUND'
  | 'DATASET_CHANGED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'NOT_FOUND'
  | 'MODEL_DELETED'
  | 'JOB_CANCELLED'
  | 'JOB_FINISHED'
  | 'WORKER_LOST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'MODEL_UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'STORE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'QUEUE_FULL'
  | 'TOO_MANY_COLUMNS'
  | 'UPLOADS_BUSY'
  | 'DATASET_TOO_LARGE'
  | 'STORAGE_FULL'
  | 'VERSION_DAMAGED'
  | 'INVALID_SETTINGS'
  | 'INTERNAL';

/** Every error code of the service. */
export type ErrorCode = ServiceCode | NceErrorCode;

const CODES: Record<ErrorCode, CodeInfo> = {
  INVALID_RECORD: { status: 400, retry: false, title: 'A record is invalid', help: 'A field has the wrong type (text where the model or dataset has numbers, a list or an object where a value belongs), a field the model needs is missing, or an append breaks the dataset\'s contract. The pointer names the record (or row) and the field; nothing was scored or stored.' },
  INVALID_REQUEST: { status: 400, retry: false, title: 'The request is invalid', help: 'The body or query does not have the documented shape: an unknown key, a missing one, a value out of range (a training config key, a cron expression, a time zone). The pointer names the part, and a mistyped config key gets the nearest valid one suggested.' },
  INVALID_CONFIG: { status: 400, retry: false, title: 'The training config is invalid', help: 'A training job\'s config has an unknown key or a value out of range; the message names it. A training request checks its config first and answers INVALID_REQUEST with a pointer into /config.' },
  INVALID_ARGUMENT: { status: 500, retry: false, title: 'The engine was called wrongly', help: 'A function of the engine was given an argument it cannot take: a defect, not bad input. The service logged it.' },
  MALFORMED_BODY: { status: 400, retry: false, title: 'The body could not be parsed', help: 'The body (or a data file given to the command line) is not valid JSON, CSV or NDJSON (a ragged CSV row, a line that is not JSON). The detail names the line.' },
  MALFORMED_REQUEST: { status: 400, retry: false, title: 'The HTTP request could not be read', help: 'The request line or a header breaks HTTP/1.1 (a control character in a header value, two Content-Length headers, a Content-Length that is not a number or that the body overruns, a malformed chunk). The detail names what the HTTP parser found; nothing was done, and the connection is closed.' },
  HEADERS_TOO_LARGE: { status: 431, retry: false, title: 'The request headers are too large', help: 'The request line and headers together are over Node\'s limit (16 KiB by default): nothing was done, and the connection is closed. Send fewer or shorter headers (a large cookie or token is the usual cause).' },
  REQUEST_TIMEOUT: { status: 408, retry: true, title: 'The request took too long to arrive', help: 'The client did not send the request\'s headers within HTTP_HEADERS_TIMEOUT_MS or its whole body within HTTP_REQUEST_TIMEOUT_MS, or the body arrived at under 1,024 bytes a second on average after its first 10 s: nothing was done, and the connection is closed. Send it again, faster, or in smaller parts.' },
  BODY_TOO_LARGE: { status: 413, retry: false, title: 'The body is too large', help: 'The body is over MAX_BODY_BYTES (MAX_DATASET_BYTES for dataset uploads), or a dataset upload holds more than MAX_UPLOAD_VALUES values (rows x columns). Send fewer records per request; a dataset takes the rest as appends.' },
  DATASET_TOO_LARGE: { status: 413, retry: false, title: 'The dataset is too large to train on', help: 'The dataset holds more values (rows x feature columns) than MAX_TRAINING_VALUES: the process that trains holds every record in memory. Keep fewer rows (appends take ?maxRows=), leave columns out with exclude, or raise MAX_TRAINING_VALUES with the workers\' memory.' },
  UPLOADS_BUSY: { status: 503, retry: true, title: 'Too many dataset uploads at once', help: 'MAX_CONCURRENT_UPLOADS dataset uploads (PUT and appends) are being read by this replica, each held in memory until stored: nothing was stored. Retry after the Retry-After header\'s seconds.' },
  TOO_MANY_COLUMNS: { status: 413, retry: false, title: 'Too many columns in a dataset', help: 'A dataset upload has more columns than MAX_DATASET_COLUMNS (4096 by default); nothing was stored. A model takes at most 2,048 feature columns: leave columns out, or reduce them (for instance to principal components), before upload.' },
  BATCH_TOO_LARGE: { status: 413, retry: false, title: 'Too many records in one request', help: 'A scoring request holds more than MAX_BATCH_RECORDS records. Split it into several requests.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retry: false, title: 'Unsupported content type', help: 'Send application/json (or text/csv or application/x-ndjson where the route takes tables), in UTF-8.' },
  METHOD_NOT_ALLOWED: { status: 405, retry: false, title: 'The route does not take this method', help: 'The path is a route of the API, asked with a method it does not take; the Allow header lists the ones it does (the OpenAPI document at /openapi.json has them all).' },
  NOT_ACCEPTABLE: { status: 406, retry: false, title: 'The answer cannot take the format asked for', help: 'Scores come as JSON, or as CSV when the Accept header asks for text/csv; explanations (explain: true) come as JSON only. Accept application/json, or leave explain out.' },
  MODEL_NOT_FOUND: { status: 404, retry: false, title: 'No such model', help: 'No model of that name has a current version. List the models with GET /v1/models; train one with POST /v1/models/{name}/train.' },
  VERSION_NOT_FOUND: { status: 404, retry: false, title: 'No such model version', help: 'The model has no version of that id (never, or deleted meanwhile). List its versions with GET /v1/models/{name}/versions.' },
  DATASET_NOT_FOUND: { status: 404, retry: false, title: 'No such dataset', help: 'The dataset named does not exist (never, or deleted meanwhile, or while a job waited for it). Create it with PUT /v1/datasets/{name}; list the datasets with GET /v1/datasets.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, retry: false, title: 'The Idempotency-Key was used for other records', help: 'An append of the dataset with this Idempotency-Key landed before with other records: a retry sends the same records under the same key, and a new append needs a new key (a UUID each). Nothing was appended. A key is remembered for the dataset\'s last 1,000 appends since its last PUT.' },
  DATASET_CHANGED: { status: 409, retry: false, title: 'The dataset was replaced meanwhile', help: 'An append was checked against the dataset, and a PUT replaced it (with other rows, whatever its columns) before the records landed: nothing was appended. GET the dataset, check the records against its columns, and send them again.' },
  NOT_FOUND: { status: 404, retry: false, title: 'Not found', help: 'The route, job or schedule named does not exist (or was deleted meanwhile).' },
  MODEL_DELETED: { status: 409, retry: false, title: 'The model was deleted meanwhile', help: 'A training job\'s model was deleted while it trained: the delete wins and nothing was saved. Train it again to bring the model back.' },
  JOB_CANCELLED: { status: 409, retry: false, title: 'The training job was cancelled', help: 'DELETE /v1/jobs/{id} stopped the job: at once while it waited, at the end of its current epoch while it trained. Nothing was saved. Train again to run it anew.' },
  JOB_FINISHED: { status: 409, retry: false, title: 'The job has already finished', help: 'The job completed or failed before it could be cancelled: what it saved stays (GET /v1/jobs/{id} shows its result). To undo a version it made current, promote another one (POST /v1/models/{name}/versions/{version}/promote).' },
  WORKER_LOST: { status: 503, retry: true, title: 'The training job\'s workers were lost', help: 'The workers (distributed mode) or the process (embedded) running the job died or were stopped before it finished (OOM kills, crashes, restarts) as often as JOB_ATTEMPTS allows. Nothing was saved. Check the workers\' logs and memory limits, then train again.' },
  UNAUTHORIZED: { status: 401, retry: false, title: 'An API key is required', help: 'API_KEYS is set: send a key as Authorization: Bearer KEY or X-API-Key: KEY.' },
  FORBIDDEN: { status: 403, retry: false, title: 'The API key may not do this', help: 'A score key may score and read; training, uploads, promotes and deletes need an admin key.' },
  MODEL_UNAVAILABLE: { status: 503, retry: true, title: 'The model cannot be loaded', help: 'The current version could not be loaded (a damaged artifact, or the registry is unreachable and this replica does not hold the model). A damaged version stays listed with the reason; promote another one.' },
  ARTIFACT_INVALID: { status: 503, retry: true, title: 'A model artifact is missing or incomplete', help: 'A version\'s files are missing, truncated or of an unsupported format, so it cannot be loaded. Promote another version or retrain.' },
  ARTIFACT_TAMPERED: { status: 503, retry: true, title: 'A model artifact does not match its checksums', help: 'A version\'s files were modified or damaged after they were saved, so it is refused. Promote another version or retrain.' },
  BACKEND_UNAVAILABLE: { status: 503, retry: true, title: 'The tensor backend cannot start', help: 'The tfjs backend named by TF_BACKEND (or none of tensorflow, wasm and cpu) could be initialised.' },
  SHUTTING_DOWN: { status: 503, retry: true, title: 'The replica is shutting down', help: 'The process stopped taking work while the request waited (SIGTERM, a rolling update): nothing was scored. Send it again; another replica, or this one once restarted, answers it.' },
  STORE_UNAVAILABLE: { status: 503, retry: true, title: 'The store is unavailable', help: 'The model registry or dataset store cannot be read or written (Redis is down or a read-only replica, or the volume is read-only or gone). Loaded models keep scoring; retry the write once the store is back.' },
  RATE_LIMITED: { status: 429, retry: true, title: 'Too many requests', help: 'This key sent more than RATE_LIMIT_PER_MINUTE requests in the last minute. Retry after the time the Retry-After header gives.' },
  QUEUE_FULL: { status: 503, retry: true, title: 'Too many training jobs are queued', help: 'MAX_QUEUED_JOBS training jobs wait to run: nothing was enqueued. Retry after the Retry-After header\'s seconds, once the workers have taken some (GET /v1/jobs?state=queued lists them).' },
  STORAGE_FULL: { status: 507, retry: true, title: 'The store is out of space', help: 'The disk (or Redis memory) is full: nothing was changed. Free space, or lower MODEL_KEEP_VERSIONS, and retry.' },
  VERSION_DAMAGED: { status: 409, retry: false, title: 'The model version is damaged', help: 'The version\'s files do not match their checksums or are incomplete, so it cannot be promoted. Promote another version or retrain.' },
  INSUFFICIENT_DATA: { status: 422, retry: false, title: 'The dataset is too small to train on', help: 'Training needs at least 20 records, and a gmm noise of a fixed component count a record per component among those q is fitted to. Append more to the dataset, or lower noise.components, and train again.' },
  INVALID_SETTINGS: { status: 500, retry: false, title: 'The settings are invalid', help: 'An environment variable has a value the service cannot use; the message lists every one. Fix them and start again.' },
  INTERNAL: { status: 500, retry: true, title: 'Internal error', help: 'Something failed that should not have. The service logged it with the request id; the answer carries no detail.' },
};

/** Every code with its status, retry policy, title and what it means: the problem pages and the README table read it. */
export function errorTable(): ({ code: ErrorCode } & CodeInfo)[] {
  return (Object.keys(CODES) as ErrorCode[]).map((code) => ({ code, ...CODES[code] }));
}

/** Whether a string is one of the codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CODES, code);
}

/** The one error the service raises: a code from the table, a message, where in the request, and why. */
export class AppError extends Error {
  /** False for a failure nobody asked for (a defect): its message is logged, never answered. */
  readonly isOperational: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** JSON pointer to the offending part of the request, e.g. `/records/3/amount`. */
    readonly pointer?: string,
    options: { cause?: unknown; isOperational?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.isOperational = options.isOperational ?? true;
  }

  /** The HTTP status of its code. */
  get status(): number {
    return CODES[this.code].status;
  }

  /** Whether a training job that failed with it is tried again. */
  get retry(): boolean {
    return CODES[this.code].retry;
  }
}

/**
 * MODEL_NOT_FOUND of a model that has no version at all, so far as the registry says: never
 * trained, or its first training still running. (A model whose versions are all candidates is
 * MODEL_NOT_FOUND too, with its own answer, and not this.) A caller that knows of a training job
 * can say which one to wait for.
 */
export class NoVersionError extends AppError {
  constructor(readonly model: string) {
    super('MODEL_NOT_FOUND', `model "${model}" does not exist or has no version`);
  }
}

/**
 * Anything thrown, as an {@link AppError}: the engine's errors keep their code (a record error its
 * record and field as a pointer), a filesystem errno becomes the store condition it means, an
 * error carrying a code of the table keeps it, and anything else is INTERNAL and not operational.
 */
export function describe(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof NceError) {
    const pointer = e.code === 'INVALID_RECORD' && e.record !== undefined ? `/records/${e.record}${e.field !== undefined ? `/${escapePointer(e.field)}` : ''}` : undefined;
    return new AppError(e.code, e.message, pointer, { cause: e, isOperational: e.code !== 'INVALID_ARGUMENT' });
  }
  const code = (e as { code?: unknown } | null)?.code;
  const condition = storeConditionOf(code);
  if (condition === 'STORAGE_FULL') return new AppError(condition, `the store could not write (${String(code)}): nothing was changed`, undefined, { cause: e });
  if (condition === 'STORE_UNAVAILABLE') {
    const why = code === 'EMFILE' || code === 'ENFILE' ? 'the process is out of open files for now' : 'the store is not writable or not there';
    return new AppError(condition, `${why} (${String(code)}): nothing was changed`, undefined, { cause: e });
  }
  if (isErrorCode(code) && code !== 'INTERNAL') return new AppError(code, messageOf(e), undefined, { cause: e });
  return new AppError('INTERNAL', 'internal error', undefined, { cause: e, isOperational: false });
}

/**
 * The condition behind a filesystem errno, as answers and failed jobs name it (never the raw
 * errno), or null for one that says nothing about the store. ENOENT and ENOTDIR under a store
 * operation mean the store vanished under it (a read-only or unmounted volume reports that way too).
 * A file past the process's size limit (EFBIG) is a full store; no file descriptor left (EMFILE,
 * ENFILE: connections hold them too) is one unavailable for now.
 */
export function storeConditionOf(errno: unknown): 'STORAGE_FULL' | 'STORE_UNAVAILABLE' | null {
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'STORAGE_FULL';
    case 'EMFILE':
    case 'ENFILE':
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
    case 'EIO':
    case 'ENOENT':
    case 'ENOTDIR':
      return 'STORE_UNAVAILABLE';
    default:
      return null;
  }
}

/** RFC 6901 escaping of one pointer segment. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The segment an RFC 6901 escaped one stands for: {@link escapePointer} undone. */
export function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
