import * as tf from '@tensorflow/tfjs';
import { calibrate, calibrationWarning, noveltyWarning, outlyingLowWarning } from './calibration';
import { defaultHiddenUnits, defaultMinRecordsPerEpoch, KERNEL_PARTNER_NOISES, resolveTrainingConfig, type ScoreKind, type TrainingConfig, usesKernelPartner } from './config';
import { Detector, type ModelState, type PartnerState, SCORE_FLOOR } from './detector';
import { concatEncoded, type Encoded, encode, layoutOf, type Layout, networkInput, takeEncoded } from './encoding';
import { NceError } from './errors';
import { auroc } from './metrics';
import { dataWarnings } from './data-checks';
import { type Architecture, type DenseWeights, Mlp } from './model';
import { type ContinuousNoise, DiscreteNoise, fitNoise, GaussianNoise, GmmNoise, type NoiseSpec } from './noise';
import { createRng, permutation, type Rng } from './random';
import { featureReference, type FeatureReference } from './reference';
import { type DataRecord, type Feature, inferSchema, quantileSorted } from './schema';

/** Fewest records a model can be trained on. */
export const MIN_TRAINING_RECORDS = 20;

/** What one epoch achieved, reported to the progress callback. */
export interface EpochProgress {
  /** 1 for the first fit; 2 for the final fit after contamination trimming. */
  pass: number;
  epoch: number;
  epochs: number;
  /** Mean training NCE loss. */
  loss: number;
  /** NCE loss on held-out records and fixed validation noise. */
  valLoss: number;
  /** How well the classifier tells held-out records from validation noise (AUC). */
  valAuc: number;
  seconds: number;
  /** An epoch of a kernel partner's classifier (see `kernelPartner`), not of the main model's. */
  partner?: true;
}

/** How training went; stored in the manifest. */
export interface TrainingSummary {
  trainRows: number;
  /** Real records per epoch (the fit rows, passed over more than once when few, or a subset when many). */
  recordsPerEpoch?: number;
  /** Reference records left out of the final fit by contamination trimming. */
  trimmedRows: number;
  validationRows: number;
  /** Epochs run, over both passes when trimming. */
  epochsRun: number;
  /** Best epoch of the final fit. */
  bestEpoch: number;
  valLoss: number;
  /**
   * Held-out NCE loss of the model p = q (logRatio 0 everywhere, the classifier's start, epoch 0).
   * valLoss is at most this: an epoch is kept only when held-out records prefer it to the start
   * (models trained before that rule could be above it: they describe held-out records worse than
   * their noise alone). Absent in artifacts from before it was recorded.
   */
  valLossNoise?: number;
  valAuc: number;
  seconds: number;
  samplesPerSecond: number;
  /**
   * How each kernel partner's classifier went (see `kernelPartner`), in the order of
   * `state.partners`; absent without them. Artifacts from before there were two held `partner`.
   */
  partners?: PartnerSummary[];
  /** Every epoch, each tagged with its pass (and a partner's as such). */
  history: EpochProgress[];
  /**
   * What in the training data will make the model flag records for a reason likely not meant (a
   * row number or timestamp among the features, a column with one value: see `dataWarnings`; too
   * few held-out records to calibrate `targetFpr`: see `calibrationWarning`), one sentence each;
   * absent when nothing was found.
   */
  warnings?: string[];
}

/** A kernel partner's training, in the manifest. */
export interface PartnerSummary {
  noise: string;
  epochsRun: number;
  bestEpoch: number;
  valLoss: number;
  valLossNoise: number;
  valAuc: number;
}

/** A trained model and how it was trained. */
export interface TrainResult {
  state: ModelState;
  /** How each feature was distributed in the training data (for drift monitoring). */
  reference?: FeatureReference[];
  training: TrainingSummary;
  config: TrainingConfig;
  /** The held-out reference records' scores the calibration was set from (not stored in the artifact). */
  heldOutScores?: Float64Array;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Called after every epoch. */
  onEpoch?: (p: EpochProgress) => void;
  /** Training stops within about a second of an abort (at its next batch after a turn of the event loop), throwing its reason. */
  signal?: AbortSignal;
  /** Feature names in order (default: the first record's keys). */
  columns?: readonly string[];
}

/**
 * Trains an NCE model: a classifier of real records against fresh noise from q every epoch, with
 * early stopping on held-out records, then calibrates the `ood` threshold on them. With
 * `contaminationTrim` > 0, a first model scores the records and the final model is trained without
 * the lowest-scoring share of them.
 * @param records - reference data (may hold a few anomalies)
 * @param configInput - partial training config; defaults fill the rest
 */
export async function train(records: readonly DataRecord[], configInput: unknown = {}, options: TrainOptions = {}): Promise<TrainResult> {
  const config = resolveTrainingConfig(configInput);
  if (records.length < MIN_TRAINING_RECORDS) {
    throw new NceError('INSUFFICIENT_DATA', `training needs at least ${MIN_TRAINING_RECORDS} records, got ${records.length}`);
  }
  checkNoiseRecords(config, records.length);
  const started = Date.now();
  const rng = createRng(config.seed);
  // A value never seen is flagged, unless the reference shows such values come more often than the
  // threshold may flag clean records (targetFpr): then they pool as "other" (see SchemaOptions).
  const schema = inferSchema(records, featureColumns(options.columns ?? Object.keys(records[0]), config.exclude), { unseenShare: config.targetFpr });
  const layout = layoutOf(schema);
  const all = encode(schema, records);
  // The held-out records are shared by both passes and never trimmed: the threshold is calibrated
  // on reference data as it is, anomalies included, so targetFpr holds on such data.
  const order = permutation(all.n, rng.fork());
  const nVal = heldOutCount(all.n, config.validationSplit);
  const val = takeEncoded(all, order.subarray(0, nVal), layout);
  const fit = takeEncoded(all, order.subarray(nVal), layout);
  const data: SplitData = { schema, layout, fit, val, valNovel: uniqueValues(all, layout, schema, order.subarray(0, nVal)) };

  const drop = trimmedCount(fit.n, config.contaminationTrim);
  const reference = featureReference(records, schema);
  const warnings = dataWarnings(records, schema);
  const thin = calibrationWarning(nVal, config.targetFpr, config.contamination, config.validationSplit);
  if (thin) warnings.push(thin);
  const novel = noveltyWarning(nVal, data.valNovel.filter(Boolean).length, config.targetFpr, config.contamination);
  if (novel) warnings.push(novel);
  const cut = checkTrainingCost(config, fit.n, layout.inputWidth, layout.numeric.length);
  if (cut) warnings.push(cut);
  // Besides those, the pass's own (which returns the final pass's).
  const noted = (r: TrainResult): TrainResult => {
    const said = [...warnings, ...(r.training.warnings ?? [])];
    return said.length > 0 ? { ...r, training: { ...r.training, warnings: said } } : r;
  };
  const first = await trainOnce(data, config, options, 1, 0);
  if (drop === 0) return noted({ ...first, reference });
  const detector = new Detector(first.state);
  let scores: Float64Array;
  try {
    scores = detector.evaluate(fit).score;
  } finally {
    detector.dispose();
  }
  // Ties keep row order, so one seed keeps one subset.
  const ranked = Array.from({ length: fit.n }, (_, i) => i).sort((x, y) => scores[x] - scores[y] || x - y);
  const kept = takeEncoded(fit, ranked.slice(drop).sort((x, y) => x - y), layout);
  const final = await trainOnce({ ...data, fit: kept }, config, options, 2, drop);
  const history = [...first.training.history, ...final.training.history];
  return noted({ ...final, reference, training: { ...final.training, history, epochsRun: history.length, seconds: (Date.now() - started) / 1000 } });
}

/**
 * The numeric columns of `rows` to fit a continuous noise to: a missing value (imputed as the
 * median, 0) is replaced by one of the column's present values, drawn at random. Fitted to the
 * imputed zeros, q would shrink a mostly missing column's spread toward them (a column 90%
 * missing: a third of its sd), and every record that has a value there would score several nats
 * too low. Missingness itself is the discrete noise's to model (the missing flags). Without
 * missing values, `rows.numeric` itself, and no random number is drawn.
 */
function presentValues(rows: Encoded, layout: Layout, seed: number): Float64Array {
  const flags = layout.discrete.flatMap((f, j) => (f.role === 'missing' && f.numericIndex !== undefined ? [{ j, col: f.numericIndex }] : []));
  const dn = layout.numeric.length;
  const dd = layout.discrete.length;
  let out: Float64Array | null = null;
  const rng = createRng(seed + 0x5eed);
  for (const { j, col } of flags) {
    const present: number[] = [];
    for (let i = 0; i < rows.n; i++) if (rows.codes[i * dd + j] !== 1) present.push(rows.numeric[i * dn + col]);
    if (present.length === 0 || present.length === rows.n) continue;
    out ??= Float64Array.from(rows.numeric);
    for (let i = 0; i < rows.n; i++) if (rows.codes[i * dd + j] === 1) out[i * dn + col] = present[rng.int(present.length)];
  }
  return out ?? rows.numeric;
}

interface SplitData {
  schema: Feature[];
  layout: Layout;
  fit: Encoded;
  val: Encoded;
  /** Per held-out record: whether it carries a value no other reference record has (see {@link uniqueValues}). */
  valNovel: boolean[];
}

/**
 * Per record of `rows` (indices into `all`): whether it holds a value no other record of `all`
 * has, where a value never seen would be flagged: a category of a feature that keeps its values
 * apart (no "other" bucket), or the only missing value of a feature. As a new record, with the
 * others as its reference, it would carry a value never seen: the held-out records so marked
 * estimate how often new records will (Good-Turing, by leaving each out), which calibration counts.
 */
function uniqueValues(all: Encoded, layout: Layout, schema: readonly Feature[], rows: ArrayLike<number>): boolean[] {
  const dd = layout.discrete.length;
  const watched = layout.discrete.flatMap((f, j) => {
    const feature = schema.find((x) => x.name === f.feature) as Feature;
    if (f.role === 'missing') return [{ j, codes: [1] }];
    if (feature.kind !== 'categorical') return [];
    // Codes 0..K-1 known categories, K "other", K + 1 missing (see categoricalSize).
    const k = f.size - 2;
    const codes = feature.hasOther === false ? [...Array.from({ length: k }, (_, c) => c), k + 1] : [k + 1];
    return [{ j, codes }];
  });
  const counts = watched.map(({ j }) => {
    const c = new Int32Array(layout.discrete[j].size);
    for (let i = 0; i < all.n; i++) c[all.codes[i * dd + j]]++;
    return c;
  });
  return Array.from(rows, (i) => watched.some(({ j, codes }, w) => {
    const code = all.codes[i * dd + j];
    return counts[w][code] === 1 && codes.includes(code);
  }));
}

async function trainOnce(data: SplitData, config: TrainingConfig, options: TrainOptions, pass: number, trimmedRows: number): Promise<TrainResult> {
  const started = Date.now();
  const { schema, layout, fit, val } = data;
  const rng = createRng(config.seed + pass);
  const whole = fitsWholeReference(config);
  const qRows = whole ? concatEncoded([fit, val]) : fit;
  const units = schema.flatMap((f) => (f.kind === 'numeric' ? [f.scale] : []));
  const continuous = fitNoise(config.noise, { rows: qRows.n, cols: layout.numeric.length, data: presentValues(qRows, layout, config.seed) }, rng.fork(), units);
  const discrete = DiscreteNoise.fit(layout.discrete, fit);
  const main = await fitClassifier(data, continuous, discrete, config, options, pass, rng, false);

  const scoreKind: ScoreKind = config.scoreKind ?? defaultScoreKind(continuous);
  const runs = [main];
  const partners: PartnerState[] = [];
  // Judged on the reference as given (trimmed rows too), so both passes of a trimmed fit agree.
  if (usesKernelPartner(config, fit.n + val.n + trimmedRows, layout.numeric.length, scoreKind)) {
    for (const spec of KERNEL_PARTNER_NOISES) {
      // Each partner draws from a stream of its own, as a model trained with its kernel density
      // as its only q would: the same held-out split, the same starting network, and the same
      // kernel centres as the other partners (scoring then shares their distances, see Detector).
      const partnerRng = createRng(config.seed + pass);
      const kernel = fitNoise(spec, { rows: fit.n, cols: layout.numeric.length, data: presentValues(fit, layout, config.seed) }, partnerRng.fork());
      const run = await fitClassifier(data, kernel, discrete, config, options, pass, partnerRng, true);
      runs.push(run);
      partners.push({ noise: { spec, fitted: kernel.toJSON() }, architecture: run.architecture, weights: run.weights });
    }
  }
  const partial: ModelState = {
    schema,
    noveltyLogProb: Math.log(0.5 / (fit.n + val.n + 1)),
    noise: { spec: config.noise, fitted: continuous.toJSON(), discrete: discrete.toJSON(), experts: 'fitted' },
    noiseRatio: config.noiseRatio,
    architecture: main.architecture,
    scoreKind,
    calibration: { targetFpr: config.targetFpr, threshold: -Infinity, quantiles: [0], referenceCount: 0 },
    weights: main.weights,
    ...(partners.length > 0 ? { partners } : {}),
  };
  let reference: Float64Array;
  const detector = new Detector(partial);
  try {
    const held = detector.evaluate(val);
    reference = held.score;
    if (whole && continuous instanceof GaussianNoise) {
      // The held-out records helped fit q: calibrate on their log q under the Gaussian fitted
      // without each of them, as new records will score, not on their in-sample log q. A held-out
      // record that another reference record repeats keeps its in-sample score: new records that
      // repeat a reference row score exactly that (duplicate rows are common, and moving their
      // tied reference scores by a hair would put every such new record above the tie). With
      // partners, the Gaussian's log q is one of the averaged terms.
      const change = continuous.leaveOneOutChange(val.numeric, val.n, qRows.n);
      const repeated = repeatedRows(val, fit);
      for (let i = 0; i < val.n; i++) if (!repeated[i]) reference[i] = Math.max(SCORE_FLOOR, reference[i] + change[i] / runs.length);
    }
    if (scoreKind === 'productOfExperts') {
      // The ratio's cap is what the classifier gives a typical held-out reference record. The
      // detector reads the cap from its state (`partial`) at each evaluation: once set, the
      // reference scores are taken again as the capped model gives them.
      const cap = quantileSorted(held.logRatio.sort(), 0.5);
      if (Number.isFinite(cap)) {
        partial.ratioCap = cap;
        reference = detector.evaluate(val).score;
      }
    }
  } finally {
    detector.dispose();
  }
  const seconds = (Date.now() - started) / 1000;
  const history = runs.flatMap((r) => r.history);
  const alone = config.kernelPartner === true && partners.length === 0 ? partnerlessWarning(layout.numeric.length, scoreKind) : null;
  const epochSeconds = history.reduce((s, h) => s + h.seconds, 0);
  const calibration = calibrate(reference, config.targetFpr, config.contamination, data.valNovel);
  const said = [alone, outlyingLowWarning(calibration, reference, data.valNovel)].filter((w): w is string => w !== null);
  return {
    state: { ...partial, calibration },
    heldOutScores: reference,
    config,
    training: {
      trainRows: fit.n,
      recordsPerEpoch: main.recordsPerEpoch,
      trimmedRows,
      validationRows: val.n,
      epochsRun: history.length,
      bestEpoch: main.bestEpoch,
      valLoss: main.valLoss,
      valLossNoise: main.valLossNoise,
      valAuc: main.valAuc,
      ...(partners.length > 0 ? { partners: partners.map((p, i) => summaryOf(runs[i + 1], p.noise.spec)) } : {}),
      seconds,
      samplesPerSecond: runs.reduce((s, r) => s + r.samples, 0) / Math.max(1e-9, epochSeconds),
      history,
      ...(said.length > 0 ? { warnings: said } : {}),
    },
  };
}

/** Why `kernelPartner: true` trained no partner (see {@link usesKernelPartner}). */
function partnerlessWarning(numericFeatures: number, scoreKind: ScoreKind): string {
  return numericFeatures === 0
    ? 'kernelPartner is true, but the records have no numeric feature for a kernel density: the model is trained alone'
    : `kernelPartner is true, but the score is not a log density (scoreKind ${scoreKind}, set or the default of its noise), of which a partner's share would be one: the model is trained alone`;
}

/** One classifier of real records against a noise, early-stopped on the held-out records. */
interface ClassifierRun {
  architecture: Architecture;
  weights: DenseWeights[];
  recordsPerEpoch: number;
  history: EpochProgress[];
  bestEpoch: number;
  valLoss: number;
  valLossNoise: number;
  valAuc: number;
  samples: number;
}

function summaryOf(run: ClassifierRun, spec: NoiseSpec): PartnerSummary {
  return { noise: spec.type, epochsRun: run.history.length, bestEpoch: run.bestEpoch, valLoss: run.valLoss, valLossNoise: run.valLossNoise, valAuc: run.valAuc };
}

/**
 * Trains a classifier of the fit records against fresh noise from `continuous` (and the discrete
 * fields' noise) every epoch, keeping the weight average of the epoch with the lowest held-out
 * NCE loss. `rng` is the model's stream after q was fitted from it.
 */
async function fitClassifier(
  data: SplitData,
  continuous: ContinuousNoise,
  discrete: DiscreteNoise,
  config: TrainingConfig,
  options: TrainOptions,
  pass: number,
  rng: Rng,
  partner: boolean,
): Promise<ClassifierRun> {
  const { layout, fit, val } = data;
  const sampler = new NoiseSampler(layout, continuous, discrete);
  const nu = config.noiseRatio;
  const valNoise = sampler.sample(val.n * nu, rng.fork());
  const valSet = labelled(layout, val, valNoise, 1);

  const architecture = { inputWidth: layout.inputWidth, hiddenUnits: config.hiddenUnits ?? defaultHiddenUnits(fit.n), activation: config.activation, members: config.ensemble };
  // The classifier starts at logit -log nu, i.e. logRatio 0: the model p = q, which held-out data
  // then has to argue it away from. A random start would carry a random ratio of about a nat into
  // models of data that q already describes well.
  const mlp = Mlp.init(architecture, rng.fork(), -Math.log(nu));
  const optimizer = tf.train.adam(config.learningRate);
  const history: EpochProgress[] = [];
  // Epoch 0 is the start, p = q: an epoch is kept only when held-out data prefers it to that.
  let best = { valLoss: constantLoss(valSet, -Math.log(nu)), epoch: 0, weights: mlp.readWeights(), valAuc: 0.5 };
  let samples = 0;
  let averaged: DenseWeights[] | null = null;
  const trainRng = rng.fork();
  const recordsPerEpoch = recordsPerEpochOf(fit.n, config, layout.numeric.length, layout.inputWidth);
  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const t0 = Date.now();
      const real = epochRecords(fit, recordsPerEpoch, layout, trainRng);
      const set = labelled(layout, real, sampler.nextEpoch(real.n * nu, trainRng), 1 - config.labelSmoothing);
      const loss = await runEpoch(mlp, optimizer, set, config.batchSize, trainRng, options.signal);
      samples += set.n;
      const current = mlp.readWeights();
      averaged = averaged ? blend(averaged, current, config.weightAveraging) : current;
      const { valLoss, valAuc } = validateWeights(architecture, averaged, valSet);
      const p: EpochProgress = { pass, epoch, epochs: config.epochs, loss, valLoss, valAuc, seconds: (Date.now() - t0) / 1000, ...(partner ? { partner } : {}) };
      history.push(p);
      options.onEpoch?.(p);
      // A turn between epochs too: a training process whose parent died (its 'disconnect'
      // handler) or a thread asked to stop hears of it at once, however short the epochs.
      await turn(options.signal);
      if (valLoss < best.valLoss - 1e-4) best = { valLoss, epoch, weights: averaged, valAuc };
      else if (epoch - best.epoch >= config.patience) break;
    }
  } finally {
    optimizer.dispose();
    mlp.dispose();
  }
  return {
    architecture,
    weights: best.weights,
    recordsPerEpoch,
    history,
    bestEpoch: best.epoch,
    valLoss: best.valLoss,
    valLossNoise: constantLoss(valSet, -Math.log(nu)),
    valAuc: best.valAuc,
    samples,
  };
}

/**
 * Most feature columns a model takes: q's covariance is features x features, fitted in time cubic
 * in them and stored in the artifact. At 4,096 (measured) a training took 396 s and 2.3 GB RSS and
 * wrote a 357 MB artifact, past what the chart's Redis holds; at 2,048 (900 rows, the CLI) 97 s,
 * 1.1 GB and 90 MB.
 */
export const MAX_FEATURES = 2048;

/**
 * The columns that are features: `columns` without those `exclude` names, at most {@link MAX_FEATURES}.
 * @throws NceError INVALID_CONFIG when `exclude` names a column that is not there, or leaves none, or too many
 */
export function featureColumns(columns: readonly string[], exclude: readonly string[]): string[] {
  const unknown = exclude.findIndex((c) => !columns.includes(c));
  if (unknown >= 0) throw new NceError('INVALID_CONFIG', `exclude names "${exclude[unknown]}", which is not a column (columns: ${columns.join(', ')})`, { field: `exclude.${unknown}` });
  const kept = columns.filter((c) => !exclude.includes(c));
  if (kept.length === 0) throw new NceError('INVALID_CONFIG', 'exclude leaves no column to train on', { field: 'exclude' });
  if (kept.length > MAX_FEATURES) {
    throw new NceError('INVALID_CONFIG', `${kept.length} feature columns; a model takes at most ${MAX_FEATURES}: its noise holds a covariance of features x features numbers, fitted in time that grows with their cube (50,000 columns would need 20 GB). Leave columns out with exclude, or reduce them (for instance to principal components) before upload`, { field: 'exclude' });
  }
  return kept;
}

/**
 * Whether q is fitted to every reference record, the held-out ones too: a Gaussian q scored as
 * logDensity, whose held-out records can still be scored out of sample (leave-one-out, exactly and
 * cheaply) for calibration. A fifth more rows for q pays most where records are few or wide (the
 * embedding suite, tables of a few hundred rows). Other noises are fitted to the fit rows only.
 */
function fitsWholeReference(config: TrainingConfig): boolean {
  const q = config.noise;
  return q.type === 'gaussian' && !((q.trim ?? 0) > 0) && (config.scoreKind ?? 'logDensity') === 'logDensity';
}

/** How many of `rows` reference records are held out for early stopping and calibration (at least one). */
export function heldOutCount(rows: number, validationSplit: number): number {
  return Math.max(1, Math.round(rows * validationSplit));
}

/**
 * How many of `fitRows` fit records the final pass leaves out (see `contaminationTrim`): 0 when
 * there is no such pass, as when it would leave fewer than {@link MIN_TRAINING_RECORDS}.
 */
function trimmedCount(fitRows: number, contaminationTrim: number): number {
  const drop = Math.floor(fitRows * contaminationTrim);
  return fitRows - drop < MIN_TRAINING_RECORDS ? 0 : drop;
}

/**
 * Refuses a config whose noise cannot be fitted to the records q is fitted to in a training on
 * `rows` reference records (the fewest of its passes): a gmm of fixed `components`, a mixture's
 * too, needs a record per component. A training request is checked so before its job is queued.
 * @throws NceError INSUFFICIENT_DATA naming the field (noise.components, or a mixture component's)
 */
export function checkNoiseRecords(config: TrainingConfig, rows: number): void {
  const held = heldOutCount(rows, config.validationSplit);
  const trimmed = trimmedCount(rows - held, config.contaminationTrim);
  const fitted = (fitsWholeReference(config) ? rows : rows - held) - trimmed;
  const gmm = fixedGmms(config.noise, 'noise').find((g) => !GmmNoise.canFit(g.components, fitted));
  if (!gmm) return;
  const unfitted = `the ${held} held out${trimmed > 0 ? ` and the ${trimmed} the trimmed pass leaves out (contaminationTrim)` : ''} are not fitted`;
  throw new NceError(
    'INSUFFICIENT_DATA',
    `${gmm.field} is ${gmm.components}, but a gmm noise needs a record per component to fit, and training on ${rows} records fits q to ${fitted} (${unfitted}): set ${gmm.field} to at most ${fitted}, leave it out (BIC then chooses the count), or train on more records`,
    { field: gmm.field },
  );
}

/** The gmm noises of `spec` (a mixture's included) whose component count is fixed, each with its config field (`at`: the spec's). */
function fixedGmms(spec: NoiseSpec, at: string): { components: number; field: string }[] {
  if (spec.type === 'gmm') return spec.components === undefined ? [] : [{ components: spec.components, field: `${at}.components` }];
  if (spec.type === 'mixture') return spec.components.flatMap((c, i) => fixedGmms(c.noise, `${at}.components.${i}.noise`));
  return [];
}

/**
 * Most rows (real records and their noise samples) one epoch holds: about 25 bytes of memory per
 * input value pass through while it is drawn and encoded. The defaults ask for 40,960 at most
 * (8,192 records, 4 noise samples each).
 */
export const MAX_EPOCH_ROWS = 2 ** 22;
/**
 * Most input values one epoch holds: its rows times the network's input width, held as an array
 * and again as a tensor in the backend's memory (a WebAssembly memory of at most 4 GiB, which a
 * trap leaves unusable). The defaults ask for about 250 million with 2,048 numeric features that
 * have missing values (two inputs each), and for more with many categorical columns (a column
 * takes one input per category, up to 66): such an epoch takes fewer records (see
 * {@link recordsPerEpochOf}).
 */
export const MAX_EPOCH_VALUES = 2 ** 28;
/** Fewest real records an epoch may be cut to by those bounds: below, the config is refused. */
const MIN_EPOCH_RECORDS = 64;
/**
 * Most multiply-adds of one epoch's forward pass over every network of the ensemble: an epoch is
 * also how long a cancelled job may run on. The defaults stay under about 2e10.
 */
export const MAX_EPOCH_MULTIPLY_ADDS = 2 ** 38;
/** Most weights of the classifier, every network of the ensemble together (the defaults: under 9 million, 135,000 for 2,048 numeric features). */
export const MAX_NETWORK_WEIGHTS = 2 ** 24;

/**
 * Refuses a config whose training would not fit: a network beyond {@link MAX_NETWORK_WEIGHTS}, an
 * epoch beyond {@link MAX_EPOCH_MULTIPLY_ADDS}, or a noise ratio so high that even
 * {@link MIN_EPOCH_RECORDS} records exceed the epoch's memory bounds. An epoch that would hold
 * more rows or values than those bounds takes fewer records instead, and the sentence returned
 * says so (null when it takes what was asked). Checked before anything is sampled, with the exact
 * input width, and by the API when a job is asked for, with one input per feature (a lower bound).
 * @param fitRows - the records the classifier trains on (the reference less its held-out share)
 * @throws NceError INVALID_CONFIG naming the setting to lower
 */
export function checkTrainingCost(config: TrainingConfig, fitRows: number, inputWidth: number, numericFeatures: number): string | null {
  const capacity = epochCapacity(config, inputWidth);
  if (capacity < MIN_EPOCH_RECORDS) {
    throw new NceError('INVALID_CONFIG', `an epoch of ${MIN_EPOCH_RECORDS} records with noiseRatio ${config.noiseRatio} on ${inputWidth} inputs would hold more than ${MAX_EPOCH_VALUES.toExponential(2)} input values: lower noiseRatio`, { field: 'noiseRatio' });
  }
  const asked = askedRecordsPerEpoch(fitRows, config, numericFeatures);
  const records = Math.min(asked, capacity);
  const rows = records * (1 + config.noiseRatio);
  const widths = [inputWidth, ...(config.hiddenUnits ?? defaultHiddenUnits(fitRows)), 1];
  let perRow = 0;
  for (let l = 1; l < widths.length; l++) perRow += widths[l - 1] * widths[l];
  const weights = config.ensemble * (perRow + widths.slice(1).reduce((a, b) => a + b, 0));
  if (weights > MAX_NETWORK_WEIGHTS) {
    throw new NceError('INVALID_CONFIG', `the classifier would have ${weights.toExponential(2)} weights (ensemble ${config.ensemble} x hiddenUnits [${widths.slice(1, -1).join(', ')}] on ${inputWidth} inputs), more than ${MAX_NETWORK_WEIGHTS.toExponential(2)}: lower hiddenUnits or ensemble`, { field: config.hiddenUnits ? 'hiddenUnits' : 'ensemble' });
  }
  const work = rows * config.ensemble * perRow;
  if (work > MAX_EPOCH_MULTIPLY_ADDS) {
    // More records than the fit rows: minRecordsPerEpoch (or its default) makes the epoch.
    const field = records > fitRows ? 'minRecordsPerEpoch' : 'maxRecordsPerEpoch';
    throw new NceError('INVALID_CONFIG', `one epoch would take ${work.toExponential(2)} multiply-adds (${rows} rows x ensemble ${config.ensemble} x ${perRow} per row), more than ${MAX_EPOCH_MULTIPLY_ADDS.toExponential(2)}: lower ${field}, noiseRatio, hiddenUnits or ensemble`, { field });
  }
  return asked > capacity
    ? `each epoch takes ${capacity} records, not the ${asked} asked for: with noiseRatio ${config.noiseRatio} on ${inputWidth} inputs, more would hold over ${MAX_EPOCH_ROWS} rows or ${MAX_EPOCH_VALUES.toExponential(2)} input values, beyond the training process's memory`
    : null;
}

/** The most real records an epoch of `inputWidth` inputs holds within {@link MAX_EPOCH_ROWS} and {@link MAX_EPOCH_VALUES}. */
function epochCapacity(config: TrainingConfig, inputWidth: number): number {
  return Math.floor(Math.min(MAX_EPOCH_ROWS, MAX_EPOCH_VALUES / Math.max(1, inputWidth)) / (1 + config.noiseRatio));
}

/**
 * Real records per epoch as the config asks: at most maxRecordsPerEpoch, at least
 * minRecordsPerEpoch (by default {@link defaultMinRecordsPerEpoch}, never above
 * maxRecordsPerEpoch), else all of them.
 */
function askedRecordsPerEpoch(rows: number, config: TrainingConfig, numericFeatures: number): number {
  if (rows > config.maxRecordsPerEpoch) return config.maxRecordsPerEpoch;
  return Math.max(rows, config.minRecordsPerEpoch ?? Math.min(config.maxRecordsPerEpoch, defaultMinRecordsPerEpoch(numericFeatures)));
}

/** Real records per epoch: as the config asks, and no more than the epoch's memory bounds hold (see {@link checkTrainingCost}). */
function recordsPerEpochOf(rows: number, config: TrainingConfig, numericFeatures: number, inputWidth: number): number {
  return Math.min(askedRecordsPerEpoch(rows, config, numericFeatures), epochCapacity(config, inputWidth));
}

/**
 * One epoch's `count` real records: a random subset of larger data; every record of smaller data,
 * passed over again (in a fresh random order, as far as needed) up to `count`.
 */
function epochRecords(fit: Encoded, count: number, layout: Layout, rng: Rng): Encoded {
  const n = fit.n;
  if (count === n) return fit;
  const order = permutation(n, rng);
  if (count < n) return takeEncoded(fit, order.subarray(0, count), layout);
  return takeEncoded(fit, Int32Array.from({ length: count }, (_, i) => (i < n ? i : order[i % n])), layout);
}

/** Which rows of `val` are repeated exactly, numeric block and discrete codes, in `val` or `fit`. */
function repeatedRows(val: Encoded, fit: Encoded): Uint8Array {
  const dn = val.numeric.length / Math.max(1, val.n);
  const dd = val.codes.length / Math.max(1, val.n);
  const key = (e: Encoded, i: number): string => `${e.numeric.subarray(i * dn, (i + 1) * dn).join(',')}|${e.codes.subarray(i * dd, (i + 1) * dd).join(',')}`;
  const valKeys = Array.from({ length: val.n }, (_, i) => key(val, i));
  const counts = new Map<string, number>();
  for (const k of valKeys) counts.set(k, (counts.get(k) ?? 0) + 1);
  // Fit rows count only where they repeat a held-out one: the map never grows past val.n keys.
  for (let i = 0; i < fit.n; i++) {
    const k = key(fit, i);
    const c = counts.get(k);
    if (c !== undefined) counts.set(k, c + 1);
  }
  return Uint8Array.from(valKeys, (k) => ((counts.get(k) ?? 0) > 1 ? 1 : 0));
}

/**
 * logDensity wherever q has a density everywhere: across the benchmark suites it ranks records
 * better than the ratio alone, which only says how the data departs from q and is blind to
 * records that are far out in q itself (see the README).
 */
function defaultScoreKind(noise: ContinuousNoise): ScoreKind {
  return noise.fullSupport ? 'logDensity' : 'logRatio';
}

/**
 * Numeric width from which training noise of a Gaussian q is refreshed epoch to epoch rather than
 * drawn anew: a draw costs d^2/2 multiply-adds per row, more than a training step of the network
 * from about here on, and at 1,555 features it would take most of the fit.
 */
const REFRESH_FROM_WIDTH = 256;

/** Draws noise rows in the encoded space: numeric block from q, discrete fields from their own noise. */
export class NoiseSampler {
  private previous: Float64Array | null = null;

  constructor(
    private readonly layout: Layout,
    private readonly continuous: ContinuousNoise,
    private readonly discrete: DiscreteNoise,
  ) {}

  sample(n: number, rng: Rng): Encoded {
    return this.withDiscrete(n, this.continuous.sample(n, rng), rng);
  }

  /**
   * One epoch's noise: a fresh draw, or for a wide Gaussian q the last epoch's rows refreshed by
   * {@link GaussianNoise.refresh} (an exact sample of q again, at O(n d) instead of O(n d^2)).
   */
  nextEpoch(n: number, rng: Rng): Encoded {
    const q = this.continuous;
    const dn = this.layout.numeric.length;
    const previous = this.previous;
    const numeric = q instanceof GaussianNoise && dn >= REFRESH_FROM_WIDTH && previous?.length === n * dn ? q.refresh(previous, rng) : q.sample(n, rng);
    this.previous = numeric;
    return this.withDiscrete(n, Float64Array.from(numeric), rng);
  }

  private withDiscrete(n: number, numeric: Float64Array, rng: Rng): Encoded {
    const codes = this.discrete.sample(n, rng);
    const dn = this.layout.numeric.length;
    const dd = this.layout.discrete.length;
    // A noise row whose missing flag is up carries the imputed value, exactly like a real one.
    this.layout.discrete.forEach((f, j) => {
      if (f.role !== 'missing' || f.numericIndex === undefined) return;
      for (let i = 0; i < n; i++) if (codes[i * dd + j] === 1) numeric[i * dn + f.numericIndex] = 0;
    });
    return { n, numeric, codes };
  }
}

interface LabelledSet {
  n: number;
  x: Float32Array;
  y: Float32Array;
  width: number;
}

function labelled(layout: Layout, real: Encoded, noise: Encoded, realLabel: number): LabelledSet {
  const both = concatEncoded([real, noise]);
  const y = new Float32Array(both.n);
  y.fill(realLabel, 0, real.n);
  return { n: both.n, x: networkInput(layout, both), y, width: layout.inputWidth };
}

/**
 * Mean logistic loss of every member's logits (members x n) against (soft) labels (n):
 * max(f, 0) - f y + log(1 + exp(-|f|)). Members share the batch but not their gradients.
 */
function nceLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))),
  );
}

/**
 * How often a long epoch gives the event loop a turn: a cancel (an abort message to a training
 * process) is heard within about this long, not at the end of an epoch, which a large config
 * (millions of rows an epoch) can stretch to many minutes.
 */
const EPOCH_YIELD_MS = 1000;

/** A turn of the event loop (messages, timers, an abort), then the abort's reason thrown if it came. */
async function turn(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}

async function runEpoch(mlp: Mlp, optimizer: tf.Optimizer, set: LabelledSet, batchSize: number, rng: Rng, signal?: AbortSignal): Promise<number> {
  const order = permutation(set.n, rng);
  const x = tf.tensor2d(set.x, [set.n, set.width]);
  const y = tf.tensor1d(set.y);
  let total = tf.scalar(0);
  const vars = mlp.variables();
  let turned = Date.now();
  try {
    for (let start = 0; start < set.n; start += batchSize) {
      if (Date.now() - turned >= EPOCH_YIELD_MS) {
        await turn(signal);
        turned = Date.now();
      }
      const idx = tf.tensor1d(order.subarray(start, Math.min(set.n, start + batchSize)), 'int32');
      const cost = optimizer.minimize(() => nceLoss(mlp.memberLogits(tf.gather(x, idx) as tf.Tensor2D), tf.gather(y, idx) as tf.Tensor1D), true, vars);
      idx.dispose();
      if (cost) {
        const next = tf.add(total, tf.mul(cost, idx.shape[0]));
        total.dispose();
        cost.dispose();
        total = next as tf.Scalar;
      }
    }
    return total.dataSync()[0] / set.n;
  } finally {
    total.dispose();
    x.dispose();
    y.dispose();
  }
}

/** Exponential moving average of weights: decay * average + (1 - decay) * current, in new arrays. */
function blend(average: DenseWeights[], current: DenseWeights[], decay: number): DenseWeights[] {
  const mix = (a: Float32Array, c: Float32Array): Float32Array => a.map((v, i) => decay * v + (1 - decay) * c[i]);
  return average.map((a, l) => ({ ...a, kernel: mix(a.kernel, current[l].kernel), bias: mix(a.bias, current[l].bias) }));
}

/** Logistic loss of logit `f` against (soft) label `y`, computed stably: max(f, 0) - f y + log(1 + exp(-|f|)). */
function logisticLoss(f: number, y: number): number {
  return Math.max(f, 0) - f * y + Math.log1p(Math.exp(-Math.abs(f)));
}

/** Mean logistic loss of one logit `f` for every row of `set`. */
function constantLoss(set: LabelledSet, f: number): number {
  let loss = 0;
  for (let i = 0; i < set.n; i++) loss += logisticLoss(f, set.y[i]);
  return loss / set.n;
}

function validateWeights(arch: Architecture, weights: DenseWeights[], set: LabelledSet): { valLoss: number; valAuc: number } {
  const mlp = new Mlp(arch, weights);
  let logits: Float32Array;
  try {
    logits = mlp.predict(set.x, set.n);
  } finally {
    mlp.dispose();
  }
  let loss = 0;
  for (let i = 0; i < set.n; i++) loss += logisticLoss(logits[i], set.y[i]);
  return { valLoss: loss / set.n, valAuc: auroc(logits, set.y) };
}
