import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { JobInfo, JobQueue, Scheduler } from '../queue';
import type { Logger } from 'pino';
import type { Settings } from '../config';
import type { Metrics } from '../metrics';
import type { DatasetStore, ModelStore } from '../store';
import { accessOf, requireScope } from './auth';
import { bodyPace, NOT_UTF8, notJson, notUtf8 } from './request-body';
import { rateLimitPerKey } from './rate-limit';
import { withDeadline } from '../deadline';
import { AppError, describe } from '../errors';
import { problemPage, toProblem } from './problems';
import { consoleRouter } from './console.route';
import { datasetsRouter } from './datasets.route';
import { jobsRouter } from './jobs.route';
import { modelsRouter } from './models.route';
import { openApiDocument, routeTable } from './openapi';
import { scheduleRouter } from './schedule.route';
import { SCORE_PATH, scoreHandlers } from './score.route';
import { type ModelCache, Scorer, type ScoringThreads } from '../serving';
import { uiRouter } from '../ui';

/**
 * The security headers a JSON API needs (OWASP REST guidance): nothing may load or frame it, HSTS,
 * nosniff, no referrer, same-origin reads. The headers for HTML documents only are left out: every
 * response carries its headers, and a scored record is smaller than helmet's defaults. helmet
 * computes them once here; each request then sets them in one loop rather than through helmet's
 * chain of seven middlewares (a measurable share of a single-record score request).
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = headersOf(
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  }),
);

/** The headers a middleware that only sets static headers (as helmet's do) sets on a response. */
function headersOf(middleware: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void): [string, string][] {
  const headers: [string, string][] = [];
  const res = { setHeader: (name: string, value: unknown) => headers.push([name.toLowerCase(), String(value)]), removeHeader: () => undefined };
  let done = false;
  middleware({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  if (!done) throw new Error('the security headers middleware did not finish synchronously');
  return headers;
}

/** What the app is built from; the composition root (src/main.ts) supplies it. */
export interface AppDeps {
  settings: Settings;
  store: ModelStore;
  datasets: DatasetStore;
  queue: JobQueue;
  scheduler: Scheduler;
  models: ModelCache;
  metrics: Metrics;
  logger: Logger;
  backend: string;
  /** Scoring threads for batches of SCORING_THREAD_MIN_RECORDS or more; null = all scoring on the event loop. */
  scoring: ScoringThreads | null;
}

/** How long the list of queued and running jobs read for 404 hints is reused. */
const PENDING_JOBS_MS = 2000;

/**
 * A model's queued or running training that will save a version (not one enqueued before the
 * model was deleted, which ends MODEL_DELETED having saved nothing), for the hint of a 404. The
 * queue's pending jobs are read at most once per {@link PENDING_JOBS_MS} for every model name
 * asked about: a client scoring many names that do not exist costs one listing, not one each.
 */
export function pendingTrainings(queue: JobQueue, store: ModelStore): (model: string) => Promise<JobInfo | null> {
  let cached: { until: number; jobs: Promise<JobInfo[]> } | null = null;
  const pending = (): Promise<JobInfo[]> => {
    const now = Date.now();
    if (cached && cached.until > now) return cached.jobs;
    const jobs = Promise.all([queue.list({ state: 'running', limit: 1000 }), queue.list({ state: 'queued', limit: 1000 })]).then(([running, queued]) => [...running, ...queued]);
    cached = { until: now + PENDING_JOBS_MS, jobs };
    return jobs;
  };
  return async (model) => {
    const mine = (await pending()).filter((j) => j.payload.model === model);
    if (mine.length === 0) return null;
    const deleted = await store.deletedAt(model);
    return mine.find((j) => deleted === null || Date.parse(j.createdAt) > deleted.getTime()) ?? null;
  };
}

/** Longest /readyz waits for the store before calling it unreachable. */
const READY_STORE_MS = 1500;

/** Builds the Express app. */
export function createApp(deps: AppDeps): Express {
  const { settings, metrics, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag: hashing every response (a scored batch is ~100 KB) costs more than any client saves.
  app.set('etag', false);
  app.set('query parser', 'simple');

  const doc = openApiDocument();
  const routeOf = routeTo(doc);
  app.use((req: Request, res: Response, next: NextFunction) => {
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    const id = requestIdOf(req);
    res.setHeader('x-request-id', id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeLabel(req, res);
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      // Route patterns and status only: never record values, bodies or keys.
      if (logger.isLevelEnabled('info')) logger.info({ reqId: id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    // Closed with no answer of ours: the client left, or the server cut the request off
    // (HTTP_REQUEST_TIMEOUT_MS: Node answers 408 itself). Logged, or it would leave no trace.
    res.on('close', () => {
      if (res.writableFinished) return;
      const route = routeLabel(req, res);
      logger.info({ reqId: id, method: req.method, route, ms: Math.round(Number(process.hrtime.bigint() - start) / 1e6), bodyRead: req.complete }, 'request closed before it was answered (the client left, or HTTP_REQUEST_TIMEOUT_MS cut it off)');
    });
    // HTTP/1.1 requires a Host header (the server leaves refusing it to here, for a problem document).
    if (req.headers.host === undefined && (req.httpVersionMajor > 1 || req.httpVersionMinor >= 1)) {
      return next(new AppError('MALFORMED_REQUEST', 'the request has no Host header, which HTTP/1.1 requires: nothing was done'));
    }
    // OPTIONS answered here for every path alike (the routers would answer their own with a text
    // list, the rest 405): the methods the path takes, or 404 for a path that is none of ours.
    if (req.method === 'OPTIONS') {
      const route = routeOf(req.path);
      if (route === null) return next(new AppError('NOT_FOUND', `no route ${req.path}`));
      res.locals.route = route.route;
      res.set('allow', [...route.methods, 'OPTIONS'].join(', ')).status(204).end();
      return;
    }
    next();
  });

  app.use(bodyPace((e, req, res) => answerError(e, req, res, () => undefined)));

  // The API first, scoring at its head: every layer before a route costs each of its requests a match.
  if (settings.RATE_LIMIT_PER_MINUTE > 0) app.use('/v1', rateLimitPerKey(settings.RATE_LIMIT_PER_MINUTE, settings.API_KEYS));
  const scoreAuth = requireScope(settings.API_KEYS, 'score');
  const adminAuth = requireScope(settings.API_KEYS, 'admin');
  app.post(
    SCORE_PATH,
    ...scoreHandlers({
      models: deps.models,
      scorer: new Scorer({ threads: deps.scoring, threadMinRecords: settings.SCORING_THREAD_MIN_RECORDS, batches: metrics.scoredBatches, logger }),
      metrics,
      maxBatch: settings.MAX_BATCH_RECORDS,
      maxExplain: settings.MAX_EXPLAIN_RECORDS,
      maxBytes: settings.MAX_BODY_BYTES,
      auth: scoreAuth,
      logger,
      trainingOf: pendingTrainings(deps.queue, deps.store),
    }),
  );
  app.use(modelsRouter({ store: deps.store, models: deps.models, scheduler: deps.scheduler, queue: deps.queue, auth: scoreAuth, adminAuth }));
  app.use(consoleRouter({ store: deps.store, models: deps.models, metrics, auth: scoreAuth, access: accessOf(settings.API_KEYS), rawValues: settings.CONSOLE_RAW_VALUES, minRecords: settings.DRIFT_MIN_RECORDS, scheduler: deps.scheduler }));
  app.use(datasetsRouter({ datasets: deps.datasets, maxBytes: settings.MAX_DATASET_BYTES, maxColumns: settings.MAX_DATASET_COLUMNS, maxValues: settings.MAX_UPLOAD_VALUES, maxUploads: settings.MAX_CONCURRENT_UPLOADS, readAuth: scoreAuth, writeAuth: adminAuth }));
  app.use(scheduleRouter({ scheduler: deps.scheduler, datasets: deps.datasets, models: deps.store, queue: deps.queue, maxBytes: settings.MAX_BODY_BYTES, maxTrainingValues: settings.MAX_TRAINING_VALUES, readAuth: scoreAuth, writeAuth: adminAuth }));
  app.use(jobsRouter({ datasets: deps.datasets, models: deps.store, queue: deps.queue, maxBytes: settings.MAX_BODY_BYTES, maxQueued: settings.MAX_QUEUED_JOBS, maxTrainingValues: settings.MAX_TRAINING_VALUES, readAuth: scoreAuth, writeAuth: adminAuth }));

  app.get('/', (_req, res) => {
    res.json({ name: 'nce-ood', links: { console: '/ui/', docs: '/docs', openapi: '/openapi.json', metrics: '/metrics', models: '/v1/models', health: '/healthz', ready: '/readyz' } });
  });
  app.get('/problems/:slug', (req, res) => {
    const page = problemPage(String(req.params.slug));
    if (page === null) throw new AppError('NOT_FOUND', `no problem type "${String(req.params.slug)}"`);
    res.type('html').send(page);
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    let store: string;
    try {
      // A store that hangs is as good as away: probes time out at a second or two.
      store = await withDeadline(deps.store.list().then(() => deps.store.writable()), READY_STORE_MS, () => new Error('no answer'));
    } catch {
      store = 'unreachable';
    }
    // Without its store a replica still scores with the models it holds: it stays in the load
    // balancer (degraded) unless it has none to serve. A full or read-only store still serves
    // every model it has, but nothing can be trained or uploaded: degraded too.
    const modelsLoaded = deps.models.loaded();
    const status = store === 'ok' ? 'ready' : store !== 'unreachable' || modelsLoaded.length > 0 ? 'degraded' : 'not ready';
    // Not ready says when to look again, as every 503 of the API does.
    if (status === 'not ready') res.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
    res.status(status === 'not ready' ? 503 : 200).json({ status, store, backend: deps.backend, modelsLoaded });
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  // The web console (/ui/, /ui/models/{name}) and the interactive API console (/docs).
  app.use(uiRouter({ authRequired: (settings.API_KEYS ?? []).length > 0, routeTable: routeTable(doc) }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const documented = routeOf(req.path);
    // A path of ours whose method matched nothing there (an unknown static file, a page's name): not found.
    if (documented === null || documented.methods.includes(req.method)) return next(new AppError('NOT_FOUND', `no route ${req.method} ${req.path}`));
    const allowed = documented.methods;
    // Counted under its route, as the route's own answers are, not among unmatched paths.
    res.locals.route = documented.route;
    res.set('allow', [...allowed, 'OPTIONS'].join(', '));
    next(new AppError('METHOD_NOT_ALLOWED', `${req.path} takes ${allowed.join(', ')}, not ${req.method}`));
  });
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => answerError(err, req, res, next));
  return app;

  /** Answers an error as a problem document (see the error middleware above). */
  function answerError(err: unknown, req: Request, res: Response, next: NextFunction): void {
    // Cut for its slow body, and answered so: the route's read of it failing after is no news.
    if (res.headersSent) return res.locals.paceCut === true ? undefined : next(err);
    // The client hung up while its request was being read (or shutdown cut a slow upload): no one
    // to answer, and no fault of the service; the response's close logs it, as every request left
    // unanswered. Judged by the client's socket, never by the error's code alone: a store that
    // resets its connection (Redis away) reports ECONNRESET too, and that client is still waiting
    // for its 503.
    const hungUp = (err as { code?: unknown; type?: unknown } | null) ?? {};
    if (req.socket.destroyed && (!req.complete || hungUp.code === 'ECONNRESET' || hungUp.code === 'ECONNABORTED' || hungUp.type === 'request.aborted')) return;
    // A body left unread (refused before or while streaming): drain it, so the client gets the answer.
    if (!req.complete && !req.destroyed) req.resume();
    const e = bodyParserError(err) ?? describe(err);
    // Logged whole, stack and all; the answer says only that it happened.
    if (!e.isOperational) logger.error({ err, reqId: res.get('x-request-id') }, 'unexpected error');
    // Every 503 says when to try again: those that set their own (QUEUE_FULL, UPLOADS_BUSY) keep it.
    if (e.status === 503 && res.get('Retry-After') === undefined) res.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
    // How to authenticate, as a 401 must say (RFC 9110).
    if (e.status === 401) res.set('WWW-Authenticate', 'Bearer');
    res.status(e.status).type('application/problem+json').send(JSON.stringify(toProblem(e, req.originalUrl.split('?')[0])));
  }
}

/**
 * The Retry-After of a 503 that sets none of its own (a store, model or backend unavailable, a
 * replica shutting down): a few seconds, as a Redis failover or another replica takes over.
 */
export const UNAVAILABLE_RETRY_SECONDS = 5;

/**
 * The route pattern a request is counted and logged under: its route's, or the one a route given
 * as a regular expression names (`res.locals.route`: its source would be the label), a 405's
 * documented one, or "unmatched".
 */
function routeLabel(req: Request, res: Response): string {
  const path: unknown = req.route?.path;
  if (typeof path === 'string') return `${req.baseUrl}${path}`;
  return (res.locals.route as string | undefined) ?? 'unmatched';
}

/** The keys of an OpenAPI path item that are HTTP methods. */
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * The route of a path: an API route of the OpenAPI document ({@link documentedRoute}) or one of
 * the pages beside it (the index, the document itself, metrics, the consoles, problem pages),
 * which take GET and HEAD; null for a path that is none of these.
 */
function routeTo(doc: Record<string, unknown>): (path: string) => { route: string; methods: string[] } | null {
  const documented = documentedRoute(doc);
  const pages = PAGE_ROUTES.map((route) => ({ route, pattern: routePattern(route, /:[a-z]+/) }));
  return (path) => {
    const found = documented(path);
    if (found !== null) return found;
    const page = pages.find((p) => p.pattern.test(path));
    return page ? { route: page.route, methods: ['GET', 'HEAD'] } : null;
  };
}

/**
 * A route's path pattern: its `param` parts (`{name}`, `:name`) match a path segment, the rest
 * itself; with or without a trailing slash, and case-insensitive, as Express matches routes.
 */
function routePattern(template: string, param: RegExp): RegExp {
  return new RegExp(`^${template.split(param).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}/?$`, 'i');
}

/** The app's paths outside the OpenAPI document: pages and documents, GET (and HEAD) only. */
const PAGE_ROUTES = ['/', '/openapi.json', '/metrics', '/docs', '/ui', '/ui/models/:name', '/ui/static/:file', '/problems/:slug'];

/** Longest `X-Request-Id` taken from a client: longer ones, or any with other than printable ASCII, get one of ours. */
const MAX_REQUEST_ID = 128;

/**
 * The request's id: the client's `X-Request-Id` when it is a usable one (up to
 * {@link MAX_REQUEST_ID} printable ASCII characters), else a new UUID. It is echoed and logged on
 * every line of the request: a client's 15 KB header would otherwise be too.
 */
function requestIdOf(req: Request): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && given.length <= MAX_REQUEST_ID && /^[\x21-\x7e]+$/.test(given) ? given : randomUUID();
}

/**
 * The route a path matches in the OpenAPI document, in Express's spelling (`/v1/models/:name`), with
 * the methods the document gives it (GET with HEAD); null for a path of no route: a documented path
 * asked with another method is a 405, not a 404.
 */
export function documentedRoute(doc: Record<string, unknown>): (path: string) => { route: string; methods: string[] } | null {
  const routes = Object.entries((doc as { paths: Record<string, Record<string, unknown>> }).paths).map(([template, operations]) => {
    const pattern = routePattern(template, /\{[^}]+\}/);
    // A path item also holds `parameters`, `summary` ...: only its HTTP methods are methods.
    const methods = Object.keys(operations)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((m) => m.toUpperCase());
    const route = template.replace(/\{([^}]+)\}/g, ':$1');
    return { pattern, route, methods: methods.includes('GET') ? [...methods, 'HEAD'] : methods };
  });
  return (path) => routes.find((r) => r.pattern.test(path)) ?? null;
}

/**
 * body-parser (with a `type`) and the router (URIError) report their own failures; they become our
 * codes. (A body over its limit is told where it is read, which knows the limit's setting: see `body`.)
 */
function bodyParserError(err: unknown): AppError | null {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed') return notJson(typeof (err as { body?: unknown }).body === 'string' ? (err as { body: string }).body : undefined);
  if (type === NOT_UTF8) return (err as { answer?: AppError }).answer ?? notUtf8();
  if (type === 'charset.unsupported') return new AppError('UNSUPPORTED_MEDIA_TYPE', `the body's charset "${String((err as { charset?: unknown }).charset)}" is not supported: send UTF-8 (charset=utf-8, or no charset)`);
  if (type === 'encoding.unsupported') return new AppError('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding "${String((err as { encoding?: unknown }).encoding)}": send gzip, deflate, br or none`);
  if (typeof type === 'string' && type.startsWith('request.')) return new AppError('MALFORMED_BODY', 'the request body could not be read');
  // What body-parser passes on from decompressing (zlib's Z_*, brotli's ERR__ERROR_*, zstd's
  // codes) it marks 400 with no type: the body is not in its Content-Encoding.
  if (!(err instanceof AppError) && (err as { status?: unknown } | null)?.status === 400 && (err as { expose?: unknown }).expose === true) {
    return new AppError('MALFORMED_BODY', 'the body could not be decompressed as its Content-Encoding says');
  }
  // The router could not decode a path parameter (e.g. %C0%AE: not UTF-8).
  if (err instanceof URIError) return new AppError('INVALID_REQUEST', 'the URL path is not valid percent-encoded UTF-8');
  return null;
}
