/**
 * The shapes of the data the web console's pages draw, as zod schemas: the API's answer schemas
 * (`GET /v1/console`, `GET /v1/models/{name}/console`) and the report's data are these.
 */
import { z } from 'zod';

const isoTime = z.string().describe('ISO 8601 time, UTC');
const fieldValue = z.union([z.number(), z.string(), z.null()]);

/** What the key that asked may do: `open` (no API_KEYS), `admin` or `score`. */
export const accessSchema = z.enum(['open', 'admin', 'score']);

/** One flagged record of the console's sample. */
export const flaggedRecordSchema = z
  .object({
    at: isoTime.describe('when it was scored'),
    version: z.string(),
    score: z.number(),
    percentile: z.number(),
    contributions: z
      .array(z.object({ feature: z.string(), value: z.number() }).strict())
      .describe('the features that lowered its score most, most first: each one\'s part of the score minus the baseline record\'s, in nats'),
    values: z.record(z.string(), fieldValue).optional().describe('its values, when CONSOLE_RAW_VALUES and the key allow them'),
    row: z.number().int().optional().describe('in a report, its line in the file'),
  })
  .strict();

/** One feature's drift: PSI and its distribution in the reference and the window, bin by bin. */
export const featureDriftSchema = z
  .object({
    feature: z.string(),
    kind: z.enum(['numeric', 'categorical']),
    psi: z.number().nullable().describe('null while the window holds fewer than DRIFT_MIN_RECORDS records'),
    bins: z.array(z.string()).describe('bin labels: value ranges (deciles of the training data) or categories, then "other" and "missing"'),
    reference: z.array(z.number()).describe('training data share per bin'),
    window: z.array(z.number()).describe('drift window share per bin'),
  })
  .strict();

/** `GET /v1/models/{name}/console`: everything the model page draws. */
export const modelConsoleSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    access: accessSchema,
    rawValues: z.boolean().describe('whether flagged records carry their values'),
    model: z
      .object({
        createdAt: isoTime,
        scoreKind: z.string(),
        backend: z.string(),
        noise: z.unknown().describe('the noise spec q was fitted from'),
        partnerNoises: z.array(z.unknown()).describe("the kernel partners' noise specs (an ensemble over noises: the score is the mean over this model and them); empty without partners"),
        config: z.unknown().describe('the training config, defaults filled in'),
        features: z.array(z.object({ name: z.string(), kind: z.enum(['numeric', 'categorical']) }).strict()),
        datasetRows: z.number().int(),
        trainRows: z.number().int(),
        validationRows: z.number().int(),
        trimmedRows: z.number().int(),
        epochsRun: z.number().int(),
        bestEpoch: z.number().int(),
        valAuc: z.number(),
        valLoss: z.number(),
        seconds: z.number(),
        targetFpr: z.number(),
        contamination: z.number().optional().describe('the share of the reference the training config said are anomalies (absent when 0)'),
        tailShare: z.number().optional().describe("share of the held-out records below the threshold where their lowest scores, standing apart, had it raised above the order statistic at targetFpr (by the lower tail of the others, or the far-out fence); absent when it was not"),
        expectedFlagged: z
          .number()
          .describe('share of records like the reference the threshold flags: targetFpr (plus the stated contamination), or the share below a threshold the lower tail of the held-out scores raised (tailShare), or 1 / (n + 1) when the n held-out records are too few for that'),
        threshold: z.number(),
        warnings: z.array(z.string()).describe("the training's warnings (the model's training.warnings): what in the data will make the model flag records for a reason likely not meant, a threshold calibrated on too few records; empty when none"),
      })
      .strict(),
    history: z
      .array(z.object({ pass: z.number().int(), epoch: z.number().int(), loss: z.number(), valLoss: z.number(), valAuc: z.number() }).strict())
      .describe('per epoch, from the manifest'),
    scores: z
      .object({
        edges: z.array(z.number()).describe('bin edges in nats, one more than bins'),
        reference: z.array(z.number()).describe('held-out reference records\' share per bin (from the calibration\'s quantiles)'),
        window: z.array(z.number()).describe('recent records\' share per bin; those outside the edges count in the first or last'),
        records: z.number().int().describe('recent records (as the drift window keeps them)'),
        outside: z.number().describe('share of recent records outside the edges'),
        threshold: z.number().describe('scores below it are ood'),
      })
      .strict(),
    drift: z
      .object({
        records: z.number().int(),
        minRecords: z.number().int(),
        psi: z.number().nullable(),
        ks: z.number().nullable(),
        features: z.array(featureDriftSchema).describe('most drifted first (the console route gives the 50 most drifted)'),
        featureCount: z.number().int().describe('features with a drift reference, all of them: more than `features` holds on a wide model'),
      })
      .strict(),
    traffic: z.object({ scored: z.number().int(), flagged: z.number().int() }).strict().describe('records scored and flagged by this version on this replica'),
    flagged: z.array(flaggedRecordSchema).describe('the newest flagged records of a bounded sample, newest first'),
    schedule: z
      .object({ cron: z.string(), timezone: z.string(), dataset: z.string(), nextRun: isoTime.nullable().describe('null when the cron fires no more; in the past when no worker takes jobs (distributed mode)') })
      .strict()
      .nullable()
      .optional()
      .describe("the model's retraining schedule (PUT /v1/models/{name}/schedule); null when it has none, absent when the scheduler could not be asked (Redis away) and in a report"),
  })
  .strict();

/** `GET /v1/console`: every model's current version with its traffic and drift. */
export const consoleOverviewSchema = z
  .object({
    access: accessSchema,
    models: z.array(
      z
        .object({
          name: z.string(),
          version: z.string().nullable().describe('the current version; null when every version is a candidate the quality gate kept back'),
          candidate: z.string().optional().describe('without a current version: the newest candidate'),
          createdAt: isoTime.optional(),
          valAuc: z.number().optional(),
          damaged: z.string().optional().describe('why the current version cannot be loaded'),
          scored: z.number().int(),
          flagged: z.number().int(),
          psi: z.number().nullable(),
        })
        .strict(),
    ),
  })
  .strict();

export type Access = z.infer<typeof accessSchema>;
export type ModelConsole = z.infer<typeof modelConsoleSchema>;
export type ConsoleOverview = z.infer<typeof consoleOverviewSchema>;
export type FeatureDrift = z.infer<typeof featureDriftSchema>;
export type ConsoleSchedule = NonNullable<ModelConsole['schedule']>;
