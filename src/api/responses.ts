/**
 * The shapes of the API's 2xx answers, as zod schemas: the OpenAPI document's response schemas
 * are generated from them, and a test holds every route's real answers to them (strictly: a field
 * a route adds without adding it here fails that test).
 */
import { z } from 'zod';
import { SCORE_FIELDS, type ScoreFieldKind } from '../nce';
import { consoleOverviewSchema, modelConsoleSchema } from '../ui';

const isoTime = z.string().describe('ISO 8601 time, UTC');
const version = z.string().describe('version id: UTC time to the millisecond and random hex, sortable by age');

/** `GET /healthz`. */
export const healthAnswer = z.object({ status: z.literal('ok') }).strict();

/** `GET /readyz` (200 when ready or degraded, 503 when not ready). */
export const readyAnswer = z
  .object({
    status: z.enum(['ready', 'degraded', 'not ready']),
    store: z.enum(['ok', 'full', 'read-only', 'unreachable']),
    backend: z.string(),
    modelsLoaded: z.array(z.string()),
  })
  .strict();

/** `GET /`. */
export const rootAnswer = z.object({ name: z.literal('nce-ood'), links: z.record(z.string(), z.string()) }).strict();

/** One column of a dataset's contract. */
const columnContract = z
  .object({
    name: z.string(),
    kind: z.enum(['numeric', 'categorical']),
    missing: z.boolean(),
    categories: z.array(z.string()).optional().describe('categorical: the most frequent categories seen when the dataset was created (at most 64); others may follow'),
  })
  .strict();

/** `PUT`/`GET /v1/datasets/{name}`, `POST .../records`. */
export const datasetAnswer = z
  .object({
    name: z.string(),
    rows: z.number().int(),
    columns: z.array(z.string()),
    updatedAt: isoTime,
    schema: z.array(columnContract).optional().describe('the contract fixed when the dataset was created'),
    generation: z.string().optional().describe('changes whenever a PUT replaces the dataset, never on an append (absent for datasets stored before it existed)'),
  })
  .strict();

/** `GET /v1/datasets`. */
export const datasetListAnswer = z.object({ datasets: z.array(datasetAnswer) }).strict();

/** `GET /v1/models`. */
export const modelListAnswer = z
  .object({
    models: z.array(
      z
        .object({
          name: z.string(),
          version: version.nullable().describe('the current version; null when every version is a candidate the quality gate kept back'),
          candidate: version.optional().describe('without a current version: the newest candidate (promote it, or see GET /v1/models/{name}/versions)'),
        })
        .strict(),
    ),
  })
  .strict();

/** `GET /v1/models/{name}`: the current version's manifest summary. */
export const modelAnswer = z
  .object({
    name: z.string(),
    version,
    createdAt: isoTime,
    features: z.array(
      z
        .object({
          name: z.string(),
          kind: z.enum(['numeric', 'categorical']),
          hasMissing: z.boolean(),
          categories: z.number().int().optional().describe('categorical: how many of its values the model keeps apart'),
          unseenValues: z
            .enum(['flagged', 'pooled'])
            .optional()
            .describe("categorical: how a value training never had scores: 'flagged' (always ood), or 'pooled' with the reference's rare values as one \"other\" (a field of many values seen once, where new ones are common: Good-Turing), scored as a rare value and not flagged by itself"),
        })
        .strict(),
    ),
    scoreKind: z.enum(['logDensity', 'logRatio', 'productOfExperts']),
    noise: z.unknown().describe('the noise spec q was fitted from'),
    calibration: z
      .object({
        targetFpr: z.number(),
        contamination: z.number().optional().describe('share of the reference stated as anomalies (training config `contamination`); absent when 0'),
        tailShare: z.number().optional().describe("share of the held-out reference records the threshold flags where it was raised above the order statistic at targetFpr because the lowest held-out scores stand apart from the rest (likely anomalies): to the point the reference's lower tail gives, or, from 30 to 198 held-out records at 0.01, to the order statistic of the scores above the far-out fence (4 interquartile ranges below the lower quartile); absent when it was not"),
        novelty: z.number().optional().describe('share of the held-out reference records that carried a value no other reference record had (a category seen once, the only missing value of a field): about that share of new records will carry a value never seen, which is always flagged; absent when 0'),
        threshold: z.number(),
        referenceCount: z.number().int(),
        expectedFlaggedShare: z.number().describe('share of new records distributed as the reference that the ood flag is expected to flag: what nce_ood_model_expected_flagged_ratio exports and the flagged-rate alerts compare with (targetFpr, raised by contamination, tailShare, novelty, or 1/(n + 1) for n held-out records too few for targetFpr)'),
      })
      .strict(),
    training: z
      .object({
        trainRows: z.number().int(),
        validationRows: z.number().int(),
        valAuc: z.number(),
        seconds: z.number(),
        warnings: z.array(z.string()).optional().describe('what in the training data will make the model flag records for a reason likely not meant (a row number or timestamp among the features, a column with one value, too few held-out records to calibrate targetFpr), one sentence each'),
      })
      .strict(),
    dataset: z.object({ fingerprint: z.string(), rows: z.number().int() }).strict(),
    backend: z.string(),
  })
  .strict();

/** `GET /v1/models/{name}/versions`. */
export const versionListAnswer = z
  .object({
    name: z.string(),
    versions: z.array(
      z
        .object({
          version,
          current: z.boolean(),
          candidate: z.string().nullable().describe("why the quality gate kept it from being current, or null"),
          createdAt: isoTime.optional(),
          valAuc: z.number().optional(),
          trainRows: z.number().int().optional(),
          damaged: z.string().optional().describe('why the version cannot be loaded'),
        })
        .strict(),
    ),
  })
  .strict();

/** `POST /v1/models/{name}/versions/{version}/promote`. */
export const promoteAnswer = z.object({ name: z.string(), version, current: z.literal(true) }).strict();

/** `POST /v1/models/{name}/train` (202). */
export const trainAnswer = z.object({ jobId: z.string(), state: z.enum(['queued', 'running', 'completed', 'failed']) }).strict();

const epochProgress = z
  .object({
    pass: z.number().int(),
    epoch: z.number().int(),
    epochs: z.number().int(),
    loss: z.number(),
    valLoss: z.number(),
    valAuc: z.number(),
    seconds: z.number(),
    partner: z.literal(true).optional().describe("an epoch of the kernel partner's classifier (see kernelPartner), after the main model's"),
  })
  .strict();

/** A job, as `GET /v1/jobs/{id}` shows it (the list leaves `progress` empty). */
export const jobAnswer = z
  .object({
    id: z.string(),
    state: z.enum(['queued', 'running', 'completed', 'failed']),
    payload: z
      .object({
        kind: z.literal('train'),
        model: z.string(),
        dataset: z.string(),
        config: z.unknown(),
        allowSchemaChange: z.boolean().optional(),
        trigger: z.enum(['schedule', 'drift']).optional(),
        scheduleSince: z.string().optional().describe('of a scheduled job: when the schedule that enqueued it was created'),
        servedVersion: z.string().optional().describe('of a drift retrain: the version served when its drift stayed high'),
      })
      .strict(),
    progress: z.array(epochProgress),
    attempts: z.number().int().optional(),
    result: z
      .object({ model: z.string(), version, promoted: z.boolean(), reason: z.string().optional(), unchanged: z.boolean().optional(), warnings: z.array(z.string()).optional().describe("the trained version's training.warnings (see GET /v1/models/{name})") })
      .strict()
      .optional(),
    error: z.object({ code: z.string(), message: z.string() }).strict().optional(),
    createdAt: isoTime,
    startedAt: isoTime.optional(),
    finishedAt: isoTime.optional(),
  })
  .strict();

/** `GET /v1/jobs`. */
export const jobListAnswer = z.object({ jobs: z.array(jobAnswer) }).strict();

/** `PUT`/`GET /v1/models/{name}/schedule`. */
export const scheduleAnswer = z
  .object({
    model: z.string(),
    cron: z.string(),
    dataset: z.string(),
    config: z.unknown().optional(),
    timezone: z.string(),
    nextRun: isoTime.nullable(),
    since: isoTime.optional().describe('when the schedule was created: a PUT that replaces it keeps it, one after a DELETE starts anew (absent for schedules from before it was kept)'),
    lastRun: jobAnswer.nullable().describe('the newest job this schedule enqueued that has started, or null: not one of an earlier schedule of the model'),
  })
  .strict();

/** `GET /v1/schedules`. */
export const scheduleListAnswer = z
  .object({ schedules: z.array(scheduleAnswer.omit({ lastRun: true })).describe("every model's schedule, by model name; a model's last run: GET /v1/models/{name}/schedule") })
  .strict();

/** A field of a scored record, by its kind (see `SCORE_FIELDS`). */
const SCORE_FIELD_SCHEMAS: Record<ScoreFieldKind, () => z.ZodType> = {
  number: () => z.number(),
  share: () => z.number().min(0).max(1),
  numberOrNull: () => z.number().nullable(),
  flag: () => z.boolean(),
};

/** One scored record: the fields of `SCORE_FIELDS`, then the contributions `explain` adds. */
export const scoreResultAnswer = z
  .object({
    ...Object.fromEntries(SCORE_FIELDS.map((f) => [f.name, SCORE_FIELD_SCHEMAS[f.kind]().describe(f.description)])),
    contributions: z.record(z.string(), z.number()).optional().describe('with explain: per feature, its part of the score'),
  })
  .strict();

/** `POST /v1/models/{name}/score` (JSON). */
export const scoreAnswerSchema = z.object({ model: z.string(), version, results: z.array(scoreResultAnswer) }).strict();

/** Each 2xx answer schema by the name the OpenAPI document gives it. */
export const ANSWERS = {
  HealthAnswer: healthAnswer,
  ReadyAnswer: readyAnswer,
  RootAnswer: rootAnswer,
  DatasetAnswer: datasetAnswer,
  DatasetListAnswer: datasetListAnswer,
  ModelListAnswer: modelListAnswer,
  ModelAnswer: modelAnswer,
  VersionListAnswer: versionListAnswer,
  PromoteAnswer: promoteAnswer,
  TrainAnswer: trainAnswer,
  JobAnswer: jobAnswer,
  JobListAnswer: jobListAnswer,
  ScheduleAnswer: scheduleAnswer,
  ScheduleListAnswer: scheduleListAnswer,
  ScoreAnswer: scoreAnswerSchema,
  ConsoleOverviewAnswer: consoleOverviewSchema,
  ModelConsoleAnswer: modelConsoleSchema,
} as const;
