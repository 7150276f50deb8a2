import { z } from 'zod';
import { trainingConfigSchema } from '../nce';
import { datasetJsonSchema } from './dataset-body';
import { trainRequestSchema } from './jobs.route';
import { scheduleRequestSchema } from './schedule.route';
import { columnarScoreRequestSchema, scoreRequestSchema } from './score.route';

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
const errors = (...codes: number[]): Record<string, unknown> =>
  Object.fromEntries(codes.map((c) => [String(c), { description: 'problem', content: { 'application/problem+json': { schema: problem } } }]));
const json = (schema: unknown): Record<string, unknown> => ({ content: { 'application/json': { schema } } });
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
  return {
    openapi: '3.1.0',
    info: { title: 'nce-ood', version: '0.1.0', description: 'Out-of-distribution detection for tabular records with NCE density-ratio models.' },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
    security: auth,
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'alive' } } } },
      '/readyz': { get: { summary: 'Readiness: store, backend, loaded models', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text format' } } } },
      '/v1/datasets': { get: { summary: 'List datasets', responses: { '200': { description: 'datasets' } } } },
      '/v1/datasets/{name}': {
        parameters: [named('dataset')],
        put: {
          summary: 'Create or replace a dataset from CSV, NDJSON or JSON',
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: { type: 'string' } }, 'application/json': { schema: { $ref: '#/components/schemas/DatasetJson' } } } },
          responses: { '200': { description: 'stored' }, ...errors(400, 401, 403, 413, 415, 503, 507) },
        },
        get: { summary: 'Rows, columns and contract (schema: each column\'s kind and whether it may be missing, fixed when the dataset was created) of a dataset', responses: { '200': { description: 'summary' }, ...errors(404) } },
        delete: { summary: 'Delete a dataset', responses: { '204': { description: 'deleted' }, ...errors(404) } },
      },
      '/v1/datasets/{name}/records': {
        parameters: [named('dataset'), { name: 'maxRows', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'keep only the newest rows' }],
        post: { summary: 'Append records; a record that breaks the dataset\'s contract (text in a numeric column, null where none is allowed) is a 400 naming it, and nothing is appended', requestBody: { required: true, content: { 'text/csv': {}, 'application/x-ndjson': {}, 'application/json': { schema: { $ref: '#/components/schemas/DatasetJson' } } } }, responses: { '200': { description: 'appended' }, ...errors(400, 404, 413, 415) } },
      },
      '/v1/models': { get: { summary: 'List models', responses: { '200': { description: 'models' } } } },
      '/v1/models/{name}': {
        parameters: [named('model')],
        get: { summary: "The current version's manifest summary", responses: { '200': { description: 'summary' }, ...errors(404, 503) } },
        delete: { summary: 'Delete a model and its versions', responses: { '204': { description: 'deleted' }, ...errors(403, 404) } },
      },
      '/v1/models/{name}/versions': { parameters: [named('model')], get: { summary: 'Versions, current and candidates', responses: { '200': { description: 'versions' }, ...errors(404) } } },
      '/v1/models/{name}/versions/{version}/promote': {
        parameters: [named('model'), { name: 'version', in: 'path', required: true, schema: { type: 'string' } }],
        post: { summary: 'Make a version current (rollback)', responses: { '200': { description: 'promoted' }, ...errors(403, 404, 409, 503) } },
      },
      '/v1/models/{name}/train': {
        parameters: [named('model')],
        post: { summary: 'Train a new version on a stored dataset', requestBody: { required: true, ...json({ $ref: '#/components/schemas/TrainRequest' }) }, responses: { '202': { description: 'job accepted: {jobId}' }, ...errors(400, 403, 404, 415, 422) } },
      },
      '/v1/models/{name}/schedule': {
        parameters: [named('model')],
        put: {
          summary: 'Retrain on a cron schedule (5 fields, or 6 with seconds first, read in timezone, UTC by default); replaces the model\'s schedule',
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/ScheduleRequest' }) },
          responses: { '200': { description: 'the schedule with its next run' }, ...errors(400, 401, 403, 404, 415, 422, 503) },
        },
        get: { summary: "The model's schedule, its time zone, next run and last run (the newest job it enqueued)", responses: { '200': { description: 'schedule' }, ...errors(404) } },
        delete: { summary: 'Stop retraining on a schedule', responses: { '204': { description: 'deleted' }, ...errors(403, 404) } },
      },
      '/v1/jobs': {
        get: {
          summary: 'Jobs newest first (per-epoch progress left out): those of one model, in one state, at most limit',
          parameters: [
            { name: 'model', in: 'query', schema: { type: 'string' } },
            { name: 'state', in: 'query', schema: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
          ],
          responses: { '200': { description: '{jobs: [...]}' }, ...errors(400, 401) },
        },
      },
      '/v1/jobs/{id}': { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], get: { summary: 'Job state, per-epoch progress, result or error', responses: { '200': { description: 'job' }, ...errors(404) } } },
      '/v1/models/{name}/score': {
        parameters: [named('model')],
        post: {
          summary: 'Score records: one result per record, in order, naming the model version',
          requestBody: {
            required: true,
            description: 'records as objects, as columns (one array per field, as pandas to_dict("list") gives), or as CSV with a header row (or NDJSON)',
            content: {
              'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/ScoreRequest' }, { $ref: '#/components/schemas/ColumnarScoreRequest' }] } },
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          responses: {
            '200': {
              description: '{model, version, results}: per record score, logRatio, logDensity (null without a noise density), percentile, ood, and contributions with explain; numbers rounded to six decimal places. With Accept: text/csv, a CSV of score,logRatio,logDensity,percentile,ood (the version in the x-model-version header)',
            },
            ...errors(400, 401, 403, 404, 413, 415, 429, 503),
          },
        },
      },
    },
  };
}

/** A small self-contained page describing the API (no external assets: it works offline). */
export function docsPage(doc: Record<string, unknown>): string {
  const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { summary?: string }>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      rows.push(`<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary ?? '')}</td></tr>`);
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>nce-ood API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}td{padding:.3rem .8rem;border-bottom:1px solid #ddd}</style></head>
<body><h1>nce-ood API</h1><p>Errors are <code>application/problem+json</code> with a stable <code>code</code> and a JSON <code>pointer</code>.
The full schema is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p><table>${rows.join('')}</table></body></html>`;
}
