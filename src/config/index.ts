import { z } from 'zod';
import { AppError } from '../errors';

/** An API key and what it may do: `score` keys may only score, `admin` keys may do everything. */
export interface ApiKey {
  scope: 'admin' | 'score';
  key: string;
}

const apiKeys = z
  .string()
  .transform((s, ctx): ApiKey[] => {
    const keys: ApiKey[] = [];
    for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
      const i = part.indexOf(':');
      const scope = part.slice(0, i);
      const key = part.slice(i + 1);
      if (i < 0 || (scope !== 'admin' && scope !== 'score') || key.length < 8) {
        ctx.addIssue({ code: 'custom', message: 'expected comma-separated scope:key pairs, scope admin or score, keys of 8+ characters' });
        return z.NEVER;
      }
      keys.push({ scope, key });
    }
    // Set but empty (",", " , "): not the open API unset asks for, which a typo must not give.
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'holds no key (only commas and spaces): give scope:key pairs, or leave it unset for an open API' });
      return z.NEVER;
    }
    return keys;
  })
  .optional();

/** What is wrong with a Redis URL, or null: the client would read a bad port or database as something else, or fail far from the setting. */
export function redisUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'expected redis://[user:password@]host[:port][/db] or rediss://..., with a port of 1-65535';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return 'expected redis://host:port or rediss://host:port';
  if (u.hostname === '') return 'names no host';
  if (u.port === '0') return 'port 0 is no port to connect to';
  // The client reads ?db= too (over the path): one place for it, the one checked at start.
  if (u.searchParams.has('db')) return 'give the database as the path (redis://host:6379/2), not as ?db=';
  if (!/^\/?(\d{1,9})?$/.test(u.pathname)) return `the path "${u.pathname}" is no database number: expected /0, /1 ... or none (database 0)`;
  return null;
}

/**
 * Settings read from the environment. This module is the only code that reads `process.env`;
 * it validates everything at start-up and reports every problem at once.
 */
export const settingsSchema = z.object({
  /** HTTP port. @defaultValue 8080 */
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /**
   * Longest a client may take to send a request's headers, in ms; then 408 and the connection
   * closes (slow-header clients cannot hold connections). @defaultValue 20000
   */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(20_000),
  /** Longest a client may take to send a whole request (headers and body), in ms. @defaultValue 120000 */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
  /** Most open client connections; more are closed on arrival (file descriptors stay available). @defaultValue 4096 */
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /**
   * Most models kept loaded for scoring; one more evicts the least recently used (it loads again
   * when asked for). See MODEL_CACHE_MEGABYTES for what they may hold. @defaultValue 64
   */
  MODEL_CACHE_MAX: z.coerce.number().int().min(1).max(100_000).default(64),
  /**
   * Most memory the loaded models may hold together, in MB, on the event loop and again on each
   * scoring thread (each holds its own copy of the models it scores); one more evicts the least
   * recently used, the one just loaded always stays. A model holds about 16 bytes per number of
   * its noise fit and network: 0.3 MB at 9 features, 4.6 MB at 512, 10 MB at 768 (a Gaussian's
   * d x d Cholesky factor). @defaultValue 256
   */
  MODEL_CACHE_MEGABYTES: z.coerce.number().int().min(1).max(1_000_000).default(256),
  /**
   * Versions kept per model: a training job that saves one deletes the oldest beyond this many,
   * never the current version nor the newest one before it (the rollback). @defaultValue 10
   */
  MODEL_KEEP_VERSIONS: z.coerce.number().int().min(2).max(100_000).default(10),
  /** Model registry directory (embedded mode). @defaultValue './models' */
  MODELS_DIR: z.string().min(1).default('./models'),
  /** Dataset directory (embedded mode). @defaultValue './data' */
  DATASETS_DIR: z.string().min(1).default('./data'),
  /** Redis URL (`redis://[user:password@]host:port[/db]`); unset = embedded mode. @defaultValue unset */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'expected redis://host:port or rediss://host:port')
    .superRefine((url, ctx) => {
      const problem = redisUrlProblem(url);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** `scope:key` pairs (scopes admin, score); unset = open API, with a warning. @defaultValue unset */
  API_KEYS: apiKeys,
  /**
   * Whether the web console shows flagged records' raw values: `admin` keeps them in memory (a
   * bounded sample) and shows them to admin keys, and to everyone when API_KEYS is unset; `off`
   * neither keeps nor shows them (contributions only). @defaultValue 'admin'
   */
  CONSOLE_RAW_VALUES: z.enum(['admin', 'off']).default('admin'),
  /** Largest accepted request body in bytes: room for a full MAX_BATCH_RECORDS batch of a few dozen fields. @defaultValue 8388608 (8 MiB) */
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1 << 30).default(8 << 20),
  /** Largest dataset upload (CSV, NDJSON or JSON) in bytes. @defaultValue 67108864 (64 MiB) */
  MAX_DATASET_BYTES: z.coerce.number().int().min(1024).max(1 << 30).default(64 << 20),
  /**
   * Most columns a dataset may have: more are refused at upload (413 TOO_MANY_COLUMNS) as soon as
   * the header or first record says so. A record of many fields costs far more memory than its
   * bytes; a model takes at most 2048 of them as features. @defaultValue 4096
   */
  MAX_DATASET_COLUMNS: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /**
   * Most dataset uploads (PUT and appends) read at once by one process; more get 503
   * UPLOADS_BUSY with a Retry-After, before their bodies are read. Each is held in memory until
   * stored, at 70-180 bytes a value (see MAX_UPLOAD_VALUES). @defaultValue 2
   */
  MAX_CONCURRENT_UPLOADS: z.coerce.number().int().min(1).max(1000).default(2),
  /**
   * Most values (rows x columns) one dataset upload may hold, refused with 413 BODY_TOO_LARGE as
   * soon as it passes them: what an upload costs in memory follows its values, 70-180 bytes each
   * (measured), not its bytes (a CSV of single digits holds one in 2). @defaultValue 4000000
   */
  MAX_UPLOAD_VALUES: z.coerce.number().int().min(1).max(1_000_000_000).default(4_000_000),
  /**
   * Most values (rows x feature columns) a dataset may hold to be trained on: a training request
   * over it is a 413, and a job (a schedule's, a drift retrain's) fails at once, before the
   * dataset is read. The process that trains holds every record, at about 70 bytes a value: 33
   * million values ran a 2,048 MB heap out, three times, each after 30 s. @defaultValue 16000000
   */
  MAX_TRAINING_VALUES: z.coerce.number().int().min(1).max(1_000_000_000).default(16_000_000),
  /** Most records in one scoring request. @defaultValue 10000 */
  MAX_BATCH_RECORDS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /**
   * Most records one request may ask explanations of: each costs permutations x features scores
   * (about 0.7 s for a 600-feature model on one core). @defaultValue 100
   */
  MAX_EXPLAIN_RECORDS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Worker threads that score batches of SCORING_THREAD_MIN_RECORDS or more off the event loop (network, noise density, the answer's JSON); 0 = all scoring on the event loop. @defaultValue 1 */
  SCORING_THREADS: z.coerce.number().int().min(0).max(64).default(1),
  /**
   * Batches of at least this many records go to a scoring thread; smaller ones are scored in place,
   * where the hop would cost more than it saves (measured under load, 9 features: a thread gains
   * ~30% throughput at 16 records, ~40% at 64, breaks even at 4 and loses ~7% for single records).
   * @defaultValue 16
   */
  SCORING_THREAD_MIN_RECORDS: z.coerce.number().int().min(1).max(1_000_000).default(16),
  /**
   * Most training jobs waiting to run (queued, not yet running; in distributed mode over every
   * replica) before a train request is refused with 503 QUEUE_FULL: each costs a training, and
   * nothing else bounds how many a client can ask for. @defaultValue 100
   */
  MAX_QUEUED_JOBS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Requests per minute per API key (per IP without a key) on /v1 routes, per process; 0 = no limit. @defaultValue 0 */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(10_000_000).default(0),
  /**
   * Quality gate: a trained version becomes current only if its validation AUC (held-out data vs
   * noise) reaches this. Off by default: the default noise is fitted close to the data, so on data
   * it already describes well the AUC is near 0.5 for a perfectly good model. Whatever this says,
   * a version whose held-out NCE loss is above its noise's alone stays a candidate.
   * @defaultValue 0
   */
  QUALITY_GATE_MIN_VAL_AUC: z.coerce.number().min(0).max(1).default(0),
  /**
   * Quality gate: ... and is at most this much below the current version's. Off (1) by default:
   * that AUC moves by a few hundredths from one training to the next on the same data.
   * @defaultValue 1
   */
  QUALITY_GATE_MAX_AUC_DROP: z.coerce.number().min(0).max(1).default(1),
  /** Drift monitoring: most recent scored records kept per model. @defaultValue 5000 */
  DRIFT_WINDOW_RECORDS: z.coerce.number().int().min(10).max(1_000_000).default(5000),
  /** Drift monitoring: records older than this many seconds leave the window. @defaultValue 3600 */
  DRIFT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(30 * 86400).default(3600),
  /** Drift monitoring: drift statistics are exported once the window holds this many records. @defaultValue 100 */
  DRIFT_MIN_RECORDS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Drift monitoring: per-feature drift is exported for this many features per model, the most drifted first. @defaultValue 10 */
  DRIFT_TOP_FEATURES: z.coerce.number().int().min(0).max(1000).default(10),
  /**
   * Drift-triggered retraining, opt-in per model: comma-separated `model:dataset` pairs. Such a
   * model retrains on its dataset (with its current config) when its score PSI stays above
   * DRIFT_RETRAIN_PSI for DRIFT_RETRAIN_AFTER_SECONDS. @defaultValue unset (off)
   */
  DRIFT_RETRAIN: z
    .string()
    .regex(/^\s*[A-Za-z0-9][A-Za-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\s*,\s*[A-Za-z0-9][A-Za-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_-]{0,63})*\s*$/, 'expected comma-separated model:dataset pairs')
    .transform((s) => s.split(',').map((p) => {
      const [model, dataset] = p.trim().split(':') as [string, string];
      return { model, dataset };
    }))
    .optional(),
  /** Drift-triggered retraining: the PSI threshold. @defaultValue 0.25 */
  DRIFT_RETRAIN_PSI: z.coerce.number().positive().max(100).default(0.25),
  /** Drift-triggered retraining: how long PSI must stay above the threshold, in seconds. @defaultValue 900 */
  DRIFT_RETRAIN_AFTER_SECONDS: z.coerce.number().int().min(0).max(30 * 86400).default(900),
  /** Distributed mode: training jobs one worker process runs at once. @defaultValue 1 */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Distributed mode: runs of a job before a transient failure (e.g. Redis down) fails it; bad input never retries. @defaultValue 3 */
  JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** Distributed mode: a job whose worker stopped renewing its lock this long (ms) is handed to another worker. @defaultValue 30000 */
  JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** Distributed mode: port of the worker's /metrics (training outcomes and durations); 0 = off. @defaultValue 9091 */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9091),
  /**
   * On SIGTERM the API stops taking connections and lets requests in flight finish for up to this
   * long, then closes whatever is still open (a slow upload) and exits: under the pod's grace
   * period, so it is never killed mid-write. @defaultValue 15000
   */
  SHUTDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
  /** Distributed mode: on SIGTERM a worker finishes its job for at most this long (ms), then hands it back. @defaultValue 25000 */
  WORKER_SHUTDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(25_000),
  /**
   * Force a tfjs backend instead of the best available (tensorflow > wasm > cpu).
   * @defaultValue unset
   */
  TF_BACKEND: z.enum(['tensorflow', 'wasm', 'cpu']).optional(),
  /** pino log level. @defaultValue 'info' */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Validated settings. */
export type Settings = z.output<typeof settingsSchema>;

/** The quality gate as QUALITY_GATE_* set it: what training jobs and `nce-ood train --model` apply. */
export function qualityGateOf(settings: Settings): { minValAuc: number; maxAucDrop: number } {
  return { minValAuc: settings.QUALITY_GATE_MIN_VAL_AUC, maxAucDrop: settings.QUALITY_GATE_MAX_AUC_DROP };
}

/** A setting that failed validation, by variable name. */
export class SettingsError extends AppError {
  constructor(readonly problems: string[]) {
    super('INVALID_SETTINGS', `invalid configuration: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * Parses settings from an environment (default: this process's); empty strings count as unset,
 * and a value of only white space is refused (a number would read it as 0: PORT " " a random port).
 * @throws SettingsError listing every bad variable
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const keys = Object.keys(settingsSchema.shape);
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => keys.includes(k) && v !== undefined && v !== ''));
  const blank = Object.entries(present).filter(([, v]) => v?.trim() === '').map(([k]) => `${k}: blank (only white space); leave it unset for the default`);
  const r = settingsSchema.safeParse(Object.fromEntries(Object.entries(present).filter(([, v]) => v?.trim() !== '')));
  const problems = [...blank, ...(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))];
  if (!r.success || problems.length > 0) throw new SettingsError(problems);
  // Node's HTTP server refuses a headers timeout above the request timeout, with a message of its own.
  if (r.data.HTTP_HEADERS_TIMEOUT_MS > r.data.HTTP_REQUEST_TIMEOUT_MS) {
    throw new SettingsError([`HTTP_HEADERS_TIMEOUT_MS: ${r.data.HTTP_HEADERS_TIMEOUT_MS} is above HTTP_REQUEST_TIMEOUT_MS (${r.data.HTTP_REQUEST_TIMEOUT_MS}): a request's headers come within its whole time; lower it or raise HTTP_REQUEST_TIMEOUT_MS`]);
  }
  return r.data;
}

/** For entry points: the settings, or the problems on stderr and exit code 1. */
export function settingsOrExit(env: NodeJS.ProcessEnv = process.env): Settings {
  try {
    return loadSettings(env);
  } catch (e: unknown) {
    process.stderr.write(`${e instanceof SettingsError ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
