import { z } from 'zod';
import { trainingConfigSchema } from '../nce';
import { REMEMBERED_APPEND_KEYS } from '../store';
import { datasetJsonSchema } from './dataset-parser';
import { IDEMPOTENCY_KEY_MAX } from './datasets.route';
import { trainRequestSchema } from './jobs.route';
import { scheduleRequestSchema } from './schedule.route';
import { ANSWERS } from './responses';
import { columnarScoreRequestSchema, scoreRequestSchema } from './score-request';

/** JSON Schema of a zod schema, its `$defs` hoisted into `components.schemas` under `prefix`. */
function component(schema: z.ZodType, prefix: string, defs: Record<string, unknown>): unknown {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  const local = (json.$defs ?? {}) as Record<string, unknown>;
  delete json.$defs;
  const rewrite = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(/"#\/\$defs\/([^"]+)"/g, `"#/components/schemas/${prefix}$1"`));
  for (const [k, v] of Object.entries(local)) defs[`${prefix}${k}`] = rewrite(v);
  return rewrite(json);
}

const problem = { $ref: '#/components/schemas/Problem' };
const retryAfter = { 'Retry-After': { description: 'seconds to wait before trying again (RATE_LIMITED, and every 503 problem)', schema: { type: 'integer' } } };
const errors = (...codes: number[]): Record<string, unknown> =>
  Object.fromEntries(codes.map((c) => [String(c), { description: 'problem', ...(c === 429 || c === 503 ? { headers: retryAfter } : {}), content: { 'application/problem+json': { schema: problem } } }]));

/**
 * Problems every API route (under /v1) may answer, added where a route does not list them: 400 for
 * a query parameter it does not take, 401 without a key when API_KEYS is set, 429 over
 * RATE_LIMIT_PER_MINUTE, 503 when the store cannot be reached. Listed in status order.
 */
function withCommonProblems(paths: Record<string, Record<string, unknown>>): void {
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      const responses = (op as { responses: Record<string, unknown> }).responses;
      const all = { ...errors(400, 401, 429, 503), ...responses };
      (op as { responses: Record<string, unknown> }).responses = Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
}
const json = (schema: unknown, example?: unknown): Record<string, unknown> => ({ content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } } });
/** A 2xx answer whose body is one of {@link ANSWERS}, with an example. */
const answer = (description: string, name: keyof typeof ANSWERS, example?: unknown): Record<string, unknown> => ({ description, ...json({ $ref: `#/components/schemas/${name}` }, example) });

const VERSION = '20261204T101500123Z-3fa9c2';
/**
 * A train request as a user first sends one: the dataset alone, every config key at its default.
 * Without it, API consoles build a body from the schema with a value for every optional config key
 * (`"minRecordsPerEpoch": 1000000`, `"hiddenUnits": [1]`), which trains for hours.
 */
const TRAIN_EXAMPLE = { dataset: 'payments' };

/** Records as a dataset upload or append sends them (the walkthrough's payments). */
const DATASET_EXAMPLE = { records: [{ amount: 38.5, channel: 'web', hour: 14 }, { amount: 12.0, channel: 'app', hour: 9 }] };

const JOB = {
  id: '804d0e17-152e-4d32-9302-f8caf609ce77',
  state: 'completed',
  payload: { kind: 'train', model: 'payments', dataset: 'payments', config: {} },
  progress: [{ pass: 1, epoch: 1, epochs: 60, loss: 0.4727, valLoss: 0.4998, valAuc: 0.54, seconds: 0.8 }],
  attempts: 1,
  result: { model: 'payments', version: VERSION, promoted: true },
  createdAt: '2026-12-04T10:14:58.093Z',
  startedAt: '2026-12-04T10:14:58.101Z',
  finishedAt: '2026-12-04T10:15:00.466Z',
};
const named = (what: string) => ({ name: 'name', in: 'path', required: true, description: `${what} name`, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } });

/** The OpenAPI 3.1 document, built from the same zod schemas that validate requests. */
export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  schemas.ScoreRequest = component(scoreRequestSchema, 'ScoreRequest', schemas);
  schemas.ColumnarScoreRequest = component(columnarScoreRequestSchema, 'ColumnarScoreRequest', schemas);
  schemas.TrainRequest = component(trainRequestSchema, 'TrainRequest', schemas);
  schemas.TrainingConfig = component(trainingConfigSchema, 'TrainingConfig', schemas);
  schemas.DatasetJson = component(datasetJsonSchema, 'DatasetJson', schemas);
  schemas.ScheduleRequest = component(scheduleRequestSchema, 'ScheduleRequest', schemas);
  (schemas.ScheduleRequest as { properties: Record<string, unknown> }).properties.config = { $ref: '#/components/schemas/TrainingConfig' };
  (schemas.TrainRequest as { properties: Record<string, unknown> }).properties.config = { $ref: '#/components/schemas/TrainingConfig' };
  for (const [name, schema] of Object.entries(ANSWERS)) schemas[name] = component(schema, name, schemas);
  schemas.Problem = {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string' },
      instance: { type: 'string' },
      pointer: { type: 'string', description: 'JSON pointer to the offending part of the request, e.g. /records/3/amount' },
    },
  };
  const auth = [{ bearer: [] }, { apiKey: [] }];
  const doc = {
    openapi: '3.1.0',
    info: { title: 'nce-ood', version: '0.1.0', description: 'Out-of-distribution detection for tabular records with NCE density-ratio models.' },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
    security: auth,
    servers: [{ url: '/', description: 'this service: paths are relative to where the document is served' }],
    paths: {
      '/': { get: { summary: 'Links to the web console, this document, metrics, the models and health', security: [], responses: { '200': answer('links', 'RootAnswer', { name: 'nce-ood', links: { console: '/ui/', docs: '/docs', openapi: '/openapi.json', metrics: '/metrics', models: '/v1/models', health: '/healthz', ready: '/readyz' } }) } } },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': answer('alive', 'HealthAnswer', { status: 'ok' }) } } },
      '/readyz': { get: { summary: 'Readiness: store, backend, loaded models', security: [], responses: { '200': answer('ready, or degraded (the store is full, read-only or unreachable: loaded models still score)', 'ReadyAnswer', { status: 'ready', store: 'ok', backend: 'wasm', modelsLoaded: ['payments'] }), '503': { ...answer('not ready: no store and no model to serve', 'ReadyAnswer'), headers: retryAfter } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/v1/datasets': { get: { summary: 'List datasets', responses: { '200': answer('datasets', 'DatasetListAnswer') } } },
      '/v1/datasets/{name}': {
        parameters: [named('dataset')],
        put: {
          summary: 'Create or replace a dataset from CSV, NDJSON or JSON',
          parameters: [{ name: 'categorical', in: 'query', schema: { type: 'string' }, description: 'comma-separated columns whose values are categories even where they look like numbers (floor 1-30 and G); a column of numbers with a few texts is refused without it' }],
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' }, example: 'amount,channel,hour\n38.5,web,14\n12.0,app,9\n' }, 'application/x-ndjson': { schema: { type: 'string' } }, 'application/json': { schema: { $ref: '#/components/schemas/DatasetJson' }, example: DATASET_EXAMPLE } } },
          responses: {
            '200': answer('stored', 'DatasetAnswer', { name: 'payments', rows: 5000, columns: ['amount', 'channel'], updatedAt: '2026-12-04T10:14:50.026Z', schema: [{ name: 'amount', kind: 'numeric', missing: false }, { name: 'channel', kind: 'categorical', missing: false }] }),
            ...errors(400, 401, 403, 408, 413, 415, 503, 507),
          },
        },
        get: { summary: 'Rows, columns and contract (schema: each column\'s kind and whether it may be missing, fixed when the dataset was created) of a dataset', responses: { '200': answer('summary', 'DatasetAnswer'), ...errors(404) } },
        delete: { summary: 'Delete a dataset', responses: { '204': { description: 'deleted' }, ...errors(404) } },
      },
      '/v1/datasets/{name}/records': {
        parameters: [
          named('dataset'),
          { name: 'maxRows', in: 'query', schema: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER }, description: 'keep only the newest rows' },
          {
            name: 'Idempotency-Key',
            in: 'header',
            schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX },
            description: `the client's name for this append (visible ASCII): sent again after a lost answer, an append whose key is among the dataset's last ${REMEMBERED_APPEND_KEYS.toLocaleString('en-US')} since its last PUT appends nothing and answers 200 with Idempotent-Replayed: true`,
          },
        ],
        post: { summary: 'Append records; a record that breaks the dataset\'s contract (text in a numeric column, null where none is allowed) is a 400 naming it, and nothing is appended; a 409 when a PUT replaced the dataset while the records were checked (nothing appended)', requestBody: { required: true, content: { 'text/csv': {}, 'application/x-ndjson': {}, 'application/json': { schema: { $ref: '#/components/schemas/DatasetJson' }, example: DATASET_EXAMPLE } } }, responses: { '200': answer('appended (or, with an Idempotency-Key already appended with these records, nothing appended again)', 'DatasetAnswer'), ...errors(400, 401, 403, 404, 408, 409, 413, 415, 422, 503, 507) } },
      },
      '/v1/models': { get: { summary: 'List models', responses: { '200': answer('models and their current versions', 'ModelListAnswer', { models: [{ name: 'payments', version: VERSION }] }) } } },
      '/v1/models/{name}': {
        parameters: [named('model')],
        get: { summary: "The current version's manifest summary", responses: { '200': answer('summary', 'ModelAnswer'), ...errors(404, 503) } },
        delete: { summary: 'Delete a model and its versions', responses: { '204': { description: 'deleted' }, ...errors(403, 404) } },
      },
      '/v1/console': {
        get: { summary: 'The web console\'s models page: every model\'s current version, records scored and flagged, and score PSI on this replica', responses: { '200': answer('models', 'ConsoleOverviewAnswer'), ...errors(401, 503) } },
      },
      '/v1/models/{name}/console': {
        parameters: [named('model')],
        get: {
          summary: 'The web console\'s model page: training history, score histogram against the reference with the ood threshold, score and per-feature drift of the recent window, a sample of flagged records with their top contributions (values for admin keys, per CONSOLE_RAW_VALUES)',
          responses: { '200': answer('what the model page draws', 'ModelConsoleAnswer'), ...errors(401, 404, 503) },
        },
      },
      '/v1/models/{name}/versions': { parameters: [named('model')], get: { summary: 'Versions, current and candidates', responses: { '200': answer('versions, oldest first', 'VersionListAnswer', { name: 'payments', versions: [{ version: VERSION, current: true, candidate: null, createdAt: '2026-12-04T10:15:00.440Z', valAuc: 0.54, trainRows: 4000 }] }), ...errors(404) } } },
      '/v1/models/{name}/versions/{version}/promote': {
        parameters: [named('model'), { name: 'version', in: 'path', required: true, schema: { type: 'string' } }],
        post: { summary: 'Make a version current (rollback)', responses: { '200': answer('promoted; this replica serves it at once', 'PromoteAnswer', { name: 'payments', version: VERSION, current: true }), ...errors(403, 404, 409, 503) } },
      },
      '/v1/models/{name}/train': {
        parameters: [named('model')],
        post: { summary: 'Train a new version on a stored dataset', requestBody: { required: true, ...json({ $ref: '#/components/schemas/TrainRequest' }, TRAIN_EXAMPLE) }, responses: { '202': answer('job accepted (recorded before this answer)', 'TrainAnswer', { jobId: JOB.id, state: 'queued' }), ...errors(400, 403, 404, 413, 415, 422, 503, 507) } },
      },
      '/v1/models/{name}/schedule': {
        parameters: [named('model')],
        put: {
          summary: 'Retrain on a cron schedule (5 fields, or 6 with seconds first, read in timezone, UTC by default); replaces the model\'s schedule',
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/ScheduleRequest' }, { cron: '0 3 * * *', dataset: 'payments' }) },
          responses: { '200': answer('the schedule with its next and last run', 'ScheduleAnswer', { model: 'payments', cron: '0 3 * * *', dataset: 'payments', timezone: 'UTC', nextRun: '2026-12-05T03:00:00.000Z', lastRun: null }), ...errors(400, 401, 403, 404, 413, 415, 422, 503) },
        },
        get: { summary: "The model's schedule, its time zone, next run and last run (the newest job it enqueued)", responses: { '200': answer('schedule', 'ScheduleAnswer'), ...errors(404) } },
        delete: { summary: 'Stop retraining on a schedule', responses: { '204': { description: 'deleted' }, ...errors(403, 404) } },
      },
      '/v1/schedules': {
        get: {
          summary: "Every model's retraining schedule (also of a model with no version yet, or whose dataset is gone), by model name",
          responses: { '200': answer('schedules', 'ScheduleListAnswer', { schedules: [{ model: 'payments', cron: '0 3 * * *', dataset: 'payments', timezone: 'UTC', nextRun: '2026-12-05T03:00:00.000Z', since: '2026-12-01T09:00:00.000Z' }] }) },
        },
      },
      '/v1/jobs': {
        get: {
          summary: 'Jobs newest first (per-epoch progress left out): those of one model, in one state, at most limit',
          parameters: [
            { name: 'model', in: 'query', schema: { type: 'string' } },
            { name: 'state', in: 'query', schema: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
          ],
          responses: { '200': answer('jobs, newest first', 'JobListAnswer', { jobs: [{ ...JOB, progress: [] }] }), ...errors(400, 401) },
        },
      },
      '/v1/jobs/{id}': { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], get: { summary: 'Job state, per-epoch progress, result or error', responses: { '200': answer('job', 'JobAnswer', JOB), ...errors(404) } },
        delete: {
          summary: 'Cancel a queued or running training job: it fails with JOB_CANCELLED and saves nothing (while it waits: at once in embedded mode, when a worker takes it in distributed mode; while it trains: at the end of its current epoch, in embedded mode at once). 409 JOB_FINISHED when it has already completed or failed',
          responses: { '202': answer('the job as it stands after the cancellation (failed, or still queued or running until it stops)', 'JobAnswer'), ...errors(401, 403, 404, 409, 503) },
        },
      },
      '/v1/models/{name}/score': {
        parameters: [named('model')],
        post: {
          summary: 'Score records: one result per record, in order, naming the model version',
          requestBody: {
            required: true,
            description: 'records as objects, as columns (one array per field, as pandas to_dict("list") gives), or as CSV with a header row (or NDJSON)',
            content: {
              'application/json': {
                schema: { oneOf: [{ $ref: '#/components/schemas/ScoreRequest' }, { $ref: '#/components/schemas/ColumnarScoreRequest' }] },
                examples: {
                  records: { value: { records: [{ amount: 38.5, channel: 'web', hour: 14 }, { amount: 9500, channel: 'app', hour: 3 }] } },
                  columns: { value: { columns: { amount: [38.5, 9500], channel: ['web', 'app'], hour: [14, 3] } } },
                },
              },
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          responses: {
            '200': {
              description: 'per record score, logRatio, logDensity (null without a noise density), percentile, ood, and contributions with explain; numbers rounded to six decimal places. With Accept: text/csv, a CSV of score,logRatio,logDensity,percentile,ood (the version in the x-model-version header)',
              content: {
                'application/json': {
                  schema: { $ref: '#/components/schemas/ScoreAnswer' },
                  example: { model: 'payments', version: VERSION, results: [{ score: -9.91, logRatio: 0.12, logDensity: -9.91, percentile: 0.42, ood: false }, { score: -48.3, logRatio: -2.05, logDensity: -48.3, percentile: 0, ood: true }] },
                },
                'text/csv': { schema: { type: 'string' }, example: 'score,logRatio,logDensity,percentile,ood\n-9.91,0.12,-9.91,0.42,false\n' },
              },
            },
            // No 403: a key of either scope scores.
            ...errors(400, 401, 404, 406, 413, 415, 429, 503),
          },
        },
      },
    },
  };
  withCommonProblems(doc.paths as Record<string, Record<string, unknown>>);
  return doc;
}

/** The API's routes as an HTML table (method, path, summary), for the /docs page: no data in it, only the document's text, escaped. */
export function routeTable(doc: Record<string, unknown>): string {
  const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { summary?: string }>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      rows.push(`<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary ?? '')}</td></tr>`);
    }
  }
  return `<table><thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What it does</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
