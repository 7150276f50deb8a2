import { z } from 'zod';
import { NceError } from './errors';
import type { NoiseSpec } from './noise';

const positive = z.number().finite().positive();

/** Schema of one noise spec; `mixture` nests specs. */
export const noiseSpecSchema: z.ZodType<NoiseSpec> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('gaussian'), scale: positive.max(100).optional(), trim: z.number().finite().min(0).max(0.5).optional() }).strict(),
    z
      .object({
        type: z.literal('gmm'),
        components: z.number().int().min(1).max(32).optional(),
        maxComponents: z.number().int().min(1).max(32).optional(),
        scale: positive.max(100).optional(),
      })
      .strict(),
    z.object({ type: z.literal('uniform'), margin: z.number().finite().min(0).max(100).optional() }).strict(),
    z.object({ type: z.literal('marginals'), bandwidth: positive.max(100).optional() }).strict(),
    z
      .object({
        type: z.literal('mixture'),
        components: z.array(z.object({ weight: positive, noise: noiseSpecSchema }).strict()).min(1).max(8),
      })
      .strict(),
  ]),
);

/**
 * Which NCE quantity a model's `score` is: `logRatio`; `logDensity` = logRatio + log q; or
 * `productOfExperts` = logDensity + log of the weighted harmonic mean of q's mixture components
 * (of q itself when q is not a mixture), each taken as fitted to the data: a Gaussian component at
 * scale 1, not at the scale that widens it into broad noise.
 */
export type ScoreKind = 'logDensity' | 'logRatio' | 'productOfExperts';

/**
 * The default noise: the product of the empirical marginals (near noise: the classifier must learn
 * how features depend on each other, and log q alone is a histogram-style outlier score) mixed
 * half and half with the fitted Gaussian at twice its standard deviations (broad noise that covers
 * the far regions where outliers land). Chosen by `npm run bench:quality` over gaussian, gmm,
 * marginals and their mixtures.
 */
export const DEFAULT_NOISE: NoiseSpec = {
  type: 'mixture',
  components: [
    { weight: 0.5, noise: { type: 'marginals' } },
    { weight: 0.5, noise: { type: 'gaussian', scale: 2 } },
  ],
};

/** Training options; every field has a default (see {@link DEFAULT_TRAINING_CONFIG}). */
export const trainingConfigSchema = z
  .object({
    /** The noise distribution q. @defaultValue {@link DEFAULT_NOISE} */
    noise: noiseSpecSchema.default(DEFAULT_NOISE),
    /** nu: noise samples per real record, drawn fresh every epoch. @defaultValue 4 */
    noiseRatio: z.number().int().min(1).max(64).default(4),
    /** Hidden layer widths of the classifier. @defaultValue [64, 64] */
    hiddenUnits: z.array(z.number().int().min(1).max(1024)).min(1).max(4).default([64, 64]),
    /** Networks trained side by side on the same batches, their logits averaged. @defaultValue 1 */
    ensemble: z.number().int().min(1).max(16).default(1),
    /**
     * Decay of the per-epoch moving average of the weights that is validated, early-stopped and
     * kept (0 keeps the last epoch's weights as they are). @defaultValue 0.7
     */
    weightAveraging: z.number().finite().min(0).max(0.99).default(0.7),
    /** Hidden activation. @defaultValue 'swish' */
    activation: z.enum(['relu', 'tanh', 'elu', 'swish']).default('swish'),
    /** Most epochs; early stopping usually ends sooner. @defaultValue 60 */
    epochs: z.number().int().min(1).max(1000).default(60),
    /** Minibatch size (real and noise rows together). @defaultValue 256 */
    batchSize: z.number().int().min(8).max(65536).default(256),
    /** Adam learning rate. @defaultValue 0.002 */
    learningRate: z.number().finite().positive().max(1).default(0.002),
    /** Real records' label is 1 - labelSmoothing, for reference data holding a few anomalies. @defaultValue 0 */
    labelSmoothing: z.number().finite().min(0).max(0.4).default(0),
    /**
     * Share of the reference records that score lowest under a first model and are left out of a
     * second, final fit: reference data that holds anomalies then teaches less of them. 0 trains once.
     * Off by default: on the benchmark it helped vowels and thyroid but cost pendigits and cardio.
     * @defaultValue 0
     */
    contaminationTrim: z.number().finite().min(0).max(0.5).default(0),
    /** Share of records held out for early stopping and calibration. @defaultValue 0.2 */
    validationSplit: z.number().finite().min(0.05).max(0.5).default(0.2),
    /** Epochs without validation improvement before stopping. @defaultValue 6 */
    patience: z.number().int().min(1).max(1000).default(6),
    /** Most real records per epoch (a random subset each epoch on larger data). @defaultValue 8192 */
    maxRecordsPerEpoch: z.number().int().min(64).max(10_000_000).default(8192),
    /** False-positive rate of the `ood` threshold on held-out reference records. @defaultValue 0.01 */
    targetFpr: z.number().finite().min(0).max(0.5).default(0.01),
    /**
     * Which quantity `score` is; default: productOfExperts when every component of q has full
     * support, else logDensity when q has, else logRatio.
     */
    scoreKind: z.enum(['logDensity', 'logRatio', 'productOfExperts']).optional(),
    /** Seed of every random choice. @defaultValue 42 */
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
  })
  .strict();

/** A complete training config. */
export type TrainingConfig = z.output<typeof trainingConfigSchema>;

/** A user's partial training config. */
export type TrainingConfigInput = z.input<typeof trainingConfigSchema>;

/** Every default. */
export const DEFAULT_TRAINING_CONFIG: TrainingConfig = trainingConfigSchema.parse({});

/**
 * Validates a user's config and fills the defaults.
 * @throws NceError INVALID_CONFIG naming the first bad key
 */
export function resolveTrainingConfig(input: unknown): TrainingConfig {
  const r = trainingConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
  const first = r.error.issues[0];
  throw new NceError('INVALID_CONFIG', `invalid training config: ${issues.join('; ')}`, { field: first.path.join('.') });
}
