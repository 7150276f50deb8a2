import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { NceError } from './errors';
import { canonicalName } from './schema';
import type { NoiseSpec } from './noise';

const positive = z.number().finite().positive();

/** Deepest nesting of mixtures a noise spec may have (a mixture of mixtures is 2). */
export const MAX_NOISE_DEPTH = 4;

/** How deeply `value` nests mixtures, counted without recursion, and no further than one past the limit. */
function mixtureDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0 && deepest <= MAX_NOISE_DEPTH) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object' || (v as { type?: unknown }).type !== 'mixture') continue;
    deepest = Math.max(deepest, depth + 1);
    const components = (v as { components?: unknown }).components;
    if (Array.isArray(components)) for (const c of components) stack.push([(c as { noise?: unknown } | null)?.noise, depth + 1]);
  }
  return deepest;
}

/**
 * A kernel's width as a share of its scale: at least 0.01. Narrower kernels put every held-out
 * record millions of nats below its neighbours (a bandwidth of 1e-6 put them all at the score
 * floor, so the threshold sat there and the model flagged nothing, however far out).
 */
const narrowest = z.number().finite().min(0.01, 'a kernel this narrow scores every new record as if it were far out; at least 0.01');

/** Schema of one noise spec; `mixture` nests specs (at most {@link MAX_NOISE_DEPTH} deep, see resolveTrainingConfig). */
export const noiseSpecSchema: z.ZodType<NoiseSpec> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z
      .object({
        type: z.literal('gaussian'),
        scale: positive.max(100).optional(),
        trim: z.number().finite().min(0).max(0.5).optional(),
        shrink: z.union([z.number().finite().min(0).max(10), z.literal('ledoitWolf'), z.literal('auto')]).optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal('gmm'),
        components: z.number().int().min(1).max(32).optional(),
        maxComponents: z.number().int().min(1).max(32).optional(),
        scale: positive.max(100).optional(),
      })
      .strict(),
    z.object({ type: z.literal('uniform'), margin: z.number().finite().min(0).max(100).optional() }).strict(),
    z.object({ type: z.literal('marginals'), bandwidth: narrowest.max(100).optional() }).strict(),
    z
      .object({
        type: z.literal('kde'),
        neighbours: z.number().int().min(1).max(100).optional(),
        neighbourShare: z.number().finite().min(0).max(0.5).optional(),
        bandwidth: narrowest.max(100).optional(),
      })
      .strict(),
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
 * The default noise: the Gaussian fitted to the reference data, at its own scale, kept well
 * conditioned by a 1% per-feature ridge up to 128 numeric features and by Ledoit-Wolf shrinkage in
 * the data's own units beyond (`shrink: "auto"`, see `Shrinkage`). Noise this
 * close to the data makes the classifier learn where the data departs from a Gaussian (clusters,
 * curved manifolds, heavy tails), and log q carries the Mahalanobis distance, the strongest single
 * classic signal across the benchmark suites. Chosen by `npm run bench:quality` over 53 datasets
 * against the earlier default (half marginals, half a Gaussian at twice the scale), trimmed
 * Gaussians, GMMs, marginals and kernel densities: see the README.
 */
export const DEFAULT_NOISE: NoiseSpec = { type: 'gaussian', shrink: 'auto' };

/**
 * Hidden widths when the config names none: two layers whose width follows the training rows,
 * about sqrt(rows) rounded to a power of two, from 16 (below 512 rows) to 64 (2,048 and more),
 * so small reference sets get a network they cannot memorise.
 */
export function defaultHiddenUnits(rows: number): number[] {
  const width = 2 ** Math.round(Math.log2(Math.sqrt(Math.max(1, rows))));
  const clamped = Math.min(64, Math.max(16, width));
  return [clamped, clamped];
}

/**
 * Fewest real records per epoch when the config names none: 2,048 for up to 64 numeric features,
 * fewer in proportion beyond (the same arithmetic per epoch), so a reference set of a few hundred
 * records still gets a few hundred optimiser steps per epoch of patience instead of two or three.
 * Without it the classifier barely moves from q on small tables: on several-class normal data
 * (letters, vowels, vehicles) its ratio is what finds the records between the classes.
 */
export function defaultMinRecordsPerEpoch(numericFeatures: number): number {
  return Math.round(2048 * Math.min(1, 64 / Math.max(1, numericFeatures)));
}

/**
 * The kernel partners' q, adaptive kernel densities: a smooth one (each kernel 0.3 of its
 * centre's 10th-neighbour distance) and a sharp one (0.15 of the distance to the k-th neighbour,
 * k the larger of 10 and 5% of the centres). The sharp one resolves what the smooth one blurs:
 * the gaps between several normal classes, the textbook OOD case (some letters or vowels against
 * the others), where nearest-neighbour distances are the strongest classic signal. Its k follows
 * the reference's size so that a group of fewer than 5% of the records, such as a cluster of
 * reference anomalies, does not read as a class of its own (see the README's quality section).
 */
export const KERNEL_PARTNER_NOISES: readonly NoiseSpec[] = [
  { type: 'kde', neighbours: 10, bandwidth: 0.3 },
  { type: 'kde', neighbours: 10, neighbourShare: 0.05, bandwidth: 0.15 },
];

/**
 * Most reference records with which `kernelPartner: "auto"` trains the partners: beyond them a
 * kernel density keeps fewer than a quarter of the fit rows as centres (at most 1,024), blurs what
 * the classifier of the main model learns from that much data by itself, and costs fit time.
 */
export const KERNEL_PARTNER_MAX_ROWS = 5000;

/**
 * Most numeric features with which `kernelPartner: "auto"` trains the partners: beyond them
 * distances between records concentrate, a kernel density says little that the Gaussian does not
 * (on the 512-768-feature embedding suite a partner scored as the Gaussian model alone) and only
 * costs fit time.
 */
export const KERNEL_PARTNER_MAX_FEATURES = 128;

/**
 * Whether a model of `rows` reference records with `numericFeatures` numeric features trains the
 * kernel partners: as the config says; on "auto" when there are 1 to
 * {@link KERNEL_PARTNER_MAX_FEATURES} numeric features and at most {@link KERNEL_PARTNER_MAX_ROWS}
 * records. Never unless the score is logDensity: a partner's share of the score is a log density.
 */
export function usesKernelPartner(config: TrainingConfig, rows: number, numericFeatures: number, scoreKind: ScoreKind): boolean {
  if (numericFeatures === 0 || scoreKind !== 'logDensity' || config.kernelPartner === false) return false;
  return config.kernelPartner === true || (rows <= KERNEL_PARTNER_MAX_ROWS && numericFeatures <= KERNEL_PARTNER_MAX_FEATURES);
}

/** Training options; every field has a default (see {@link DEFAULT_TRAINING_CONFIG}). */
export const trainingConfigSchema = z
  .object({
    /** The noise distribution q. @defaultValue {@link DEFAULT_NOISE} */
    noise: noiseSpecSchema.default(DEFAULT_NOISE),
    /**
     * Columns of the records left out of the features: an id, a label, a timestamp that says
     * nothing of normality. Each must be a column of the training records. @defaultValue []
     */
    // Names in the Unicode form columns are read in (NFC), as one copied from a file may not be.
    exclude: z.array(z.string().min(1).transform(canonicalName)).max(10_000).default([]),
    /** nu: noise samples per real record, drawn fresh every epoch. @defaultValue 4 */
    noiseRatio: z.number().int().min(1).max(64).default(4),
    /** Hidden layer widths of the classifier; default: {@link defaultHiddenUnits} of the training rows. */
    hiddenUnits: z.array(z.number().int().min(1).max(1024)).min(1).max(4).optional(),
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
    /**
     * Real records' label is 1 - labelSmoothing: reference data holds a few anomalies, and noise
     * this close to the data overlaps it, so no record should be pushed to certainty.
     * @defaultValue 0.1
     */
    labelSmoothing: z.number().finite().min(0).max(0.4).default(0.1),
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
    /**
     * Fewest real records per epoch: smaller reference sets are passed over more than once an
     * epoch, each pass against fresh noise; default: {@link defaultMinRecordsPerEpoch} of the
     * numeric features.
     */
    minRecordsPerEpoch: z.number().int().min(0).max(1_000_000).optional(),
    /** Most real records per epoch (a random subset each epoch on larger data). @defaultValue 8192 */
    maxRecordsPerEpoch: z.number().int().min(64).max(10_000_000).default(8192),
    /**
     * False-positive rate the `ood` threshold is set for: the share of new records distributed as the
     * held-out reference records that it flags (see `thresholdAt`), or the point the reference's
     * lower tail gives for it where anomalies at the bottom of the reference pull that share's order
     * statistic below it (see `calibrate`). @defaultValue 0.01
     */
    targetFpr: z.number().finite().min(0).max(0.5).default(0.01),
    /**
     * Share of the training records you know or expect to be anomalies (as `contamination` in
     * PyOD or scikit-learn). The threshold then flags that share of the held-out reference records
     * besides `targetFpr` of the rest: `targetFpr` of clean traffic where those anomalies score
     * below the normal records, more where they mix with them (see `calibrate`). 0 reads the
     * reference's lower tail instead: a few percent of anomalies far below its normal records do
     * not pull the threshold among them, more of them or anomalies mixed with the normal records
     * take part of the `targetFpr` share, and clean traffic is flagged less often. Nothing is left
     * out of the fit.
     * @defaultValue 0
     */
    contamination: z.number().finite().min(0).max(0.5).default(0),
    /**
     * Which quantity `score` is; default: logDensity (logRatio + log q) when q has full support,
     * else logRatio. productOfExperts is kept for models that chose it.
     */
    scoreKind: z.enum(['logDensity', 'logRatio', 'productOfExperts']).optional(),
    /**
     * Further NCE models of the same records, each against a kernel density q
     * ({@link KERNEL_PARTNER_NOISES}), their log densities averaged with the main model's: an
     * ensemble over noises. The Gaussian q sees the data's global shape (and a cluster of
     * reference anomalies as rare), the kernel densities its local shape (several normal classes
     * with gaps between them). "auto": on reference sets of at most
     * {@link KERNEL_PARTNER_MAX_ROWS} records (see {@link usesKernelPartner}).
     * @defaultValue 'auto'
     */
    kernelPartner: z.union([z.boolean(), z.literal('auto')]).default('auto'),
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
  // Checked before the schema walks it: zod recurses once per level, and a request can nest thousands.
  if (mixtureDepth((input as { noise?: unknown } | null)?.noise) > MAX_NOISE_DEPTH) {
    throw new NceError('INVALID_CONFIG', `invalid training config: noise: mixtures nest at most ${MAX_NOISE_DEPTH} deep`, { field: 'noise' });
  }
  const r = trainingConfigSchema.safeParse(input ?? {});
  if (r.success) {
    const { minRecordsPerEpoch: least, maxRecordsPerEpoch: most } = r.data;
    if (least !== undefined && least > most) {
      throw new NceError('INVALID_CONFIG', `invalid training config: minRecordsPerEpoch (${least}) is above maxRecordsPerEpoch (${most}): an epoch cannot pass over more records than it may take; lower minRecordsPerEpoch, or leave it out (it follows the data)`, { field: 'minRecordsPerEpoch' });
    }
    return r.data;
  }
  const issues = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => {
        const near = i.path.length === 0 ? nearestKey(k, Object.keys(trainingConfigSchema.shape)) : null;
        return `${[...i.path, k].join('.')}: unknown key${near ? ` (did you mean "${near}"?)` : ''}`;
      }).join('; ');
    }
    return `${i.path.join('.') || '(config)'}: ${i.message}`;
  });
  const first = r.error.issues[0];
  const field = first.code === 'unrecognized_keys' ? [...first.path, first.keys[0]].join('.') : first.path.join('.');
  throw new NceError('INVALID_CONFIG', `invalid training config: ${issues.join('; ')}`, { field });
}

/** The candidate closest to `key` in edit distance, if it is within 2 edits (case aside): what a misspelt key likely meant. */
export function nearestKey(key: string, candidates: readonly string[]): string | null {
  if (candidates.length === 0) return null;
  const lower = candidates.map((c) => c.toLowerCase());
  const best = closest(key.toLowerCase(), lower);
  return distance(key.toLowerCase(), best) <= 2 ? candidates[lower.indexOf(best)]! : null;
}
