import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { RecordHistogram } from './record-histogram';
import { liveTensors } from '../nce';
import { withDeadline } from '../deadline';
import { DEFAULT_DRIFT_OPTIONS, DriftMonitor, type DriftOptions } from './drift-monitor';
import { DEFAULT_RECENT_TRAFFIC, RecentTraffic, type RecentTrafficOptions } from './recent-traffic';

export { type BinnedRecords, DEFAULT_DRIFT_OPTIONS, DriftMonitor, type DriftOptions, type DriftReference, driftReferenceOf, type DriftStats, type WindowContents } from './drift-monitor';
export { DEFAULT_RECENT_TRAFFIC, flaggedRecord, type FlaggedRecord, RecentTraffic, type RecentTrafficOptions, type TrafficView } from './recent-traffic';
export { DriftWindow, featurePsi, psi, psiNoise, samplePsi, type SampleSizes, scoreKs, scorePsi } from './drift';

/** A model version being served, as the metrics describe it. */
export interface ServedModelInfo {
  name: string;
  version: string;
  createdAt: string;
  valAuc: number;
  /** The false-positive rate its `ood` threshold was calibrated for. */
  targetFpr: number;
  /**
   * The share of records distributed as its reference that its threshold flags: targetFpr, plus
   * the stated contamination c of the reference (c + targetFpr (1 - c)), or the share below a
   * threshold the reference's lower tail raised (see `calibrate`).
   */
  expectedFlaggedRatio: number;
  /** How many held-out reference records the threshold was set from (its own uncertainty follows). */
  referenceRecords: number;
}

/** Longest a scrape waits for the queue's counts (see nce_ood_queue_jobs). */
const QUEUE_COUNTS_MS = 1000;

/** Job counts by state, for the queue depth gauge. */
export type QueueCounts = () => Promise<Record<string, number>>;

/** The service's Prometheus metrics, on a registry of their own (names prefixed `nce_ood_`, base units). */
export interface Metrics {
  registry: Registry;
  drift: DriftMonitor;
  /** Recent scores and a sample of flagged records, for the web console. */
  traffic: RecentTraffic;
  scoredRecords: Counter<'model'>;
  flaggedRecords: Counter<'model'>;
  /** Scored batches by where they were scored: `thread`, `in_place`, or `thread_failed` (in place after a scoring thread failed). */
  scoredBatches: Counter<'path'>;
  score: RecordHistogram;
  scorePercentile: RecordHistogram;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  modelInfo: Gauge<'model' | 'version' | 'backend'>;
  trainingJobs: Counter<'outcome'>;
  trainingDuration: Histogram<'outcome'>;
  driftRetrains: Counter<'model'>;
  /** Crash leftovers (temporary files and folders) removed at start-up. */
  leftoversRemoved: Counter;
  /** Records that `model` now serves `version` (replacing `previous`, or the version it served before it was unloaded). */
  served(model: ServedModelInfo, previous: ServedModelInfo | undefined): void;
  /** Forgets a model that is no longer served. */
  unserved(model: string): void;
  /**
   * The registry's models with a current version: each gets its record counters at 0 before it is
   * first scored, so rate() and increase() see that first batch (a counter that appears at the
   * size of its first batch counts from there); models gone from it, and not loaded, are forgotten.
   */
  inRegistry(models: readonly string[]): void;
  /** A model given a current version here (a training job this process ran): its record counters start at 0 now, not at the next registry read. */
  registered(model: string): void;
  /**
   * A model unloaded to make room (MODEL_CACHE_MAX), still served: its counters, histograms and
   * the console's counts and recent scores stay, so a rate over models scored in turn counts every
   * record; so does its drift window, within the bound of unloaded models' windows (see
   * `DriftMonitor.unload`: a window of 5,000 records of 512 features is 5 MB).
   */
  unloaded(model: string): void;
  /** Whether `model` is served (not deleted or evicted since): a batch scored before may then still count. */
  serves(model: string): boolean;
  /** Where the queue depth gauge reads from. */
  watchQueue(counts: QueueCounts): void;
}

/** Buckets of the score (log density, nats): wide, since its scale depends on the data's dimension. */
const SCORE_BUCKETS = [-200, -100, -50, -30, -20, -15, -10, -7.5, -5, -2.5, 0, 2.5, 5, 10, 20];
/** Buckets of the percentile: the same for every model, uniform when nothing has drifted. */
const PERCENTILE_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

/**
 * How a run of a training job ended: `completed`; `failed` for good (bad input, or out of
 * attempts); `retried` (a transient failure, such as Redis away, with attempts left); `cancelled`
 * (its model was deleted meanwhile, MODEL_DELETED, or the job itself, JOB_CANCELLED, as the user asked). Only `failed` needs anyone.
 */
export const TRAINING_OUTCOMES = ['completed', 'failed', 'retried', 'cancelled'] as const;
export type TrainingOutcome = (typeof TRAINING_OUTCOMES)[number];

/** The outcome of a run that ended in `state`, with the error's code and whether it runs again. */
export function trainingOutcome(state: 'completed' | 'failed', code?: string, retried = false): TrainingOutcome {
  if (state === 'completed') return 'completed';
  if (code === 'MODEL_DELETED' || code === 'JOB_CANCELLED') return 'cancelled';
  return retried ? 'retried' : 'failed';
}

/** Training outcomes: the API process counts them in embedded mode, `npm run worker` in distributed mode. */
export interface TrainingMetrics {
  registry: Registry;
  trainingJobs: Counter<'outcome'>;
  trainingDuration: Histogram<'outcome'>;
}

function training(registry: Registry): Omit<TrainingMetrics, 'registry'> {
  const trainingJobs = new Counter({
    name: 'nce_ood_training_jobs_total',
    help: 'Runs of training jobs by outcome: completed, failed (for good), retried (a transient failure with attempts left, or a run lost with its worker), cancelled (by DELETE /v1/jobs/{id}, or its model deleted)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const trainingDuration = new Histogram({
    name: 'nce_ood_training_duration_seconds',
    help: 'Training job duration by outcome',
    labelNames: ['outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  // Every outcome from 0, so that increase() and rate() see a new process's first job.
  for (const outcome of TRAINING_OUTCOMES) {
    trainingJobs.inc({ outcome }, 0);
    trainingDuration.zero({ outcome });
  }
  return { trainingJobs, trainingDuration };
}

/** The training worker's metrics: job outcomes and durations, and Node's process defaults. */
export function createTrainingMetrics(): TrainingMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nce_ood_worker_' });
  return { registry, ...training(registry) };
}

/** Creates the metrics with Node's process defaults. */
export function createMetrics(driftOptions: DriftOptions = DEFAULT_DRIFT_OPTIONS, backend = '', trafficOptions: RecentTrafficOptions = DEFAULT_RECENT_TRAFFIC): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nce_ood_' });
  const drift = new DriftMonitor(driftOptions);
  const traffic = new RecentTraffic(trafficOptions);
  const served = new Map<string, ServedModelInfo>();
  /** Models whose record counters exist (from 0): served ones, and the registry's. */
  const known = new Set<string>();
  const counted = (name: string): void => {
    if (known.has(name)) return;
    known.add(name);
    scoredRecords.inc({ model: name }, 0);
    flaggedRecords.inc({ model: name }, 0);
  };
  let queueCounts: QueueCounts | null = null;
  const registers = [registry];

  /** A gauge with one series per tracked model, computed at scrape time. */
  const perModel = (name: string, help: string, value: (model: string) => number | null | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const m of [...new Set([...drift.models(), ...served.keys()])]) {
          const v = value(m);
          if (v != null) this.set({ model: m }, v);
        }
      },
    });
  };
  perModel('nce_ood_drift_psi', 'Population stability index of the recent score percentiles against the held-out reference records\' own, less what samples of these sizes show by chance (about (bins - 1)(1/n + 1/m) for n reference and m window records); >0.25 is a large shift', (m) => drift.stats(m)?.psi);
  perModel('nce_ood_drift_ks', 'Kolmogorov-Smirnov statistic of the recent score percentiles against the held-out reference records\' own', (m) => drift.stats(m)?.ks);
  perModel('nce_ood_drift_window_records', 'Records in the drift window', (m) => drift.stats(m)?.records);
  perModel('nce_ood_model_age_seconds', 'Age of the served model version', (m) => {
    const s = served.get(m);
    return s ? (Date.now() - Date.parse(s.createdAt)) / 1000 : null;
  });
  perModel('nce_ood_model_target_fpr', 'False-positive rate the served version calibrated its ood threshold for', (m) => served.get(m)?.targetFpr);
  perModel(
    'nce_ood_model_expected_flagged_ratio',
    'Share of records distributed as its reference data that the served version flags: targetFpr, or with a stated contamination c, c + targetFpr (1 - c), or the share below a threshold the reference\'s lower tail raised; at least the share of held-out records with a value no other reference record had (always flagged), and 1/(n + 1) for n held-out reference records, the share the lowest of them flags',
    (m) => served.get(m)?.expectedFlaggedRatio,
  );
  perModel(
    'nce_ood_model_reference_records',
    'Held-out reference records the served version set its ood threshold from: with n of them, the share of clean records that threshold flags is itself uncertain by about sqrt(p (1 - p) / (n + 2))',
    (m) => served.get(m)?.referenceRecords,
  );
  perModel('nce_ood_model_validation_auc', 'Validation AUC (data vs noise) of the served model version at training', (m) => served.get(m)?.valAuc);
  new Gauge({
    name: 'nce_ood_feature_drift_psi',
    help: `PSI of each feature in the drift window against the training data, less what samples of these sizes show by chance, for the ${driftOptions.topFeatures} most drifted features per model`,
    labelNames: ['model', 'feature'],
    registers,
    collect() {
      this.reset();
      for (const m of drift.models()) for (const f of drift.stats(m)?.features ?? []) this.set({ model: m, feature: f.feature }, f.psi);
    },
  });
  new Gauge({
    name: 'nce_ood_queue_jobs',
    help: 'Training jobs in the queue by state',
    labelNames: ['state'],
    registers,
    async collect() {
      if (!queueCounts) return;
      try {
        // A scrape does not wait on a stalled Redis (its commands give up after 5 s): every other
        // series of this process would be late with it.
        const counts = await withDeadline(queueCounts(), QUEUE_COUNTS_MS, () => new Error('queue counts timed out'));
        this.reset();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      } catch {
        // The queue is unreachable (Redis down or stalled): no series rather than the last values
        // shown as if current; /readyz reports it.
        this.reset();
      }
    },
  });

  const scoredRecords = new Counter({ name: 'nce_ood_scored_records_total', help: 'Records scored', labelNames: ['model'], registers });
  const flaggedRecords = new Counter({ name: 'nce_ood_flagged_records_total', help: 'Records flagged ood', labelNames: ['model'], registers });
  const scoredBatches = new Counter({
    name: 'nce_ood_scored_batches_total',
    help: 'Scoring requests by where they were scored: thread, in_place, or thread_failed (in place after a scoring thread failed)',
    labelNames: ['path'],
    registers,
  });
  for (const path of ['thread', 'in_place', 'thread_failed']) scoredBatches.inc({ path }, 0);
  const score = new RecordHistogram('nce_ood_score', 'OOD score (nats) of scored records: their score field (by default the log density, less noveltyLogProb per value training never had, floored at -1e6)', SCORE_BUCKETS, registers);
  const scorePercentile = new RecordHistogram(
    'nce_ood_score_percentile',
    'Percentile of scored records against the held-out reference scores (without drift, distributed as the reference records\' own: uniform on [0,1] unless they tie)',
    PERCENTILE_BUCKETS,
    registers,
  );
  new Gauge({
    name: 'nce_ood_tf_tensors',
    help: 'Tensors alive on the tfjs backend (flat under steady scoring)',
    registers,
    collect() {
      this.set(liveTensors());
    },
  });
  const modelInfo = new Gauge({ name: 'nce_ood_model_info', help: 'Model version being served (value 1)', labelNames: ['model', 'version', 'backend'], registers });
  return {
    registry,
    drift,
    traffic,
    scoredRecords,
    flaggedRecords,
    scoredBatches,
    score,
    scorePercentile,
    httpDuration: new Histogram({
      name: 'nce_ood_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    ...training(registry),
    driftRetrains: new Counter({ name: 'nce_ood_drift_retrains_total', help: 'Retrains enqueued because drift stayed high', labelNames: ['model'], registers }),
    leftoversRemoved: new Counter({ name: 'nce_ood_leftovers_removed_total', help: 'Temporary files and folders left by a crash, removed at start-up', registers }),
    modelInfo,
    served(model, previous) {
      const before = previous ?? served.get(model.name);
      if (before && before.version !== model.version) modelInfo.remove({ model: before.name, version: before.version, backend });
      modelInfo.set({ model: model.name, version: model.version, backend }, 1);
      served.set(model.name, model);
      counted(model.name);
    },
    unserved(name) {
      const m = served.get(name);
      if (m) modelInfo.remove({ model: m.name, version: m.version, backend });
      served.delete(name);
      known.delete(name);
      drift.forget(name);
      traffic.forget(name);
      for (const metric of [scoredRecords, flaggedRecords, score, scorePercentile]) metric.remove({ model: name });
    },
    inRegistry(models) {
      for (const name of models) counted(name);
      const listed = new Set(models);
      for (const name of [...known]) if (!listed.has(name) && !served.has(name)) this.unserved(name);
    },
    registered(name) {
      counted(name);
    },
    unloaded(name) {
      drift.unload(name);
    },
    serves(name) {
      return served.has(name);
    },
    watchQueue(counts) {
      queueCounts = counts;
    },
  };
}
