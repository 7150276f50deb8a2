import { type Calibration, expectedFlaggedShare, type FeatureReference, type Manifest, percentileOf } from '../nce';
import type { FlaggedRecord, TrafficView, WindowContents } from '../metrics';
import type { Access, ConsoleSchedule, FeatureDrift, ModelConsole } from './console-schema';

/** Bins of the score histogram. */
export const SCORE_BINS = 40;

/** What a model page is drawn from. */
export interface ConsoleInput {
  name: string;
  version: string;
  manifest: Manifest;
  /** The model's drift window (null, or another version's: nothing scored yet). */
  window: WindowContents | null;
  /** Its recent traffic (null, or another version's: nothing scored yet). */
  traffic: TrafficView | null;
  /** Records from which the window's drift is measured (DRIFT_MIN_RECORDS; the page says so below it). */
  minRecords: number;
  access: Access;
  /** Whether flagged records' values may be shown to this reader. */
  rawValues: boolean;
  /** Most features whose drift is given, the most drifted (all when absent); `drift.featureCount` says how many there are. */
  maxFeatures?: number;
  /** The model's retraining schedule; null when it has none, absent when unknown. */
  schedule?: ConsoleSchedule | null;
}

/** The data of a model page: training, scores, drift, flagged records (what `GET /v1/models/{name}/console` answers). */
export function modelConsole(input: ConsoleInput): ModelConsole {
  const { manifest: m, version } = input;
  const window = input.window?.version === version ? input.window : null;
  const traffic = input.traffic?.version === version ? input.traffic : null;
  const t = m.training;
  // The main model's epochs: the kernel partner's run again from epoch 1 and would read as a restart.
  const mainEpochs = t.history.filter((h) => !h.partner);
  return {
    name: input.name,
    version,
    access: input.access,
    rawValues: input.rawValues,
    model: {
      createdAt: m.createdAt,
      scoreKind: m.scoreKind,
      backend: m.backend,
      noise: m.noise.spec,
      partnerNoises: (m.partners ?? []).map((p) => p.noise.spec),
      config: m.config,
      features: m.schema.map((f) => ({ name: f.name, kind: f.kind })),
      datasetRows: m.dataset.rows,
      trainRows: t.trainRows,
      validationRows: t.validationRows,
      trimmedRows: t.trimmedRows,
      epochsRun: mainEpochs.length,
      bestEpoch: t.bestEpoch,
      valAuc: t.valAuc,
      valLoss: t.valLoss,
      seconds: t.seconds,
      targetFpr: m.calibration.targetFpr,
      ...(m.calibration.contamination ? { contamination: m.calibration.contamination } : {}),
      ...(m.calibration.tailShare ? { tailShare: m.calibration.tailShare } : {}),
      expectedFlagged: expectedFlaggedShare(m.calibration),
      threshold: m.calibration.threshold,
      warnings: t.warnings ?? [],
    },
    history: mainEpochs.map((h) => ({ pass: h.pass, epoch: h.epoch, loss: h.loss, valLoss: h.valLoss, valAuc: h.valAuc })),
    scores: scoreHistogram(m.calibration, traffic?.scores ?? []),
    drift: {
      records: window?.records ?? 0,
      minRecords: input.minRecords,
      psi: window?.psi ?? null,
      ks: window?.ks ?? null,
      features: featureDrift(m.featureReference ?? [], window).slice(0, input.maxFeatures ?? Infinity),
      featureCount: (m.featureReference ?? []).length,
    },
    traffic: { scored: traffic?.scored ?? 0, flagged: traffic?.flagged ?? 0 },
    flagged: (traffic?.sample ?? []).map((f) => (input.rawValues ? f : withoutValues(f))),
    ...(input.schedule === undefined ? {} : { schedule: input.schedule }),
  };
}

function withoutValues(f: FlaggedRecord): FlaggedRecord {
  const { values: _values, ...rest } = f;
  return rest;
}

/** Share of the reference's lowest scores the score histogram leaves to its first bin (unless the threshold lies lower). */
const HISTOGRAM_LOW_TAIL = 0.01;

/**
 * The held-out reference records' scores and recent scores over one set of bins: from the
 * reference's lowest 1% (or the threshold, if lower) to its highest score, widened to the recent
 * scores' by at most that range again on either side (scores far outside count in the outermost
 * bins, and `outside` says how many). Log densities have long lower tails: spanning the lowest
 * reference score, one record hundreds of nats out would crowd the rest into the last bins. The
 * reference's share of a bin comes from its calibration's quantile table (the difference of the
 * percentiles of the bin's edges), its lowest scores counted in the first.
 */
export function scoreHistogram(cal: Calibration, scores: readonly number[], bins = SCORE_BINS): ModelConsole['scores'] {
  const q = cal.quantiles;
  const lo0 = Math.min(cal.threshold, q[Math.round(HISTOGRAM_LOW_TAIL * (q.length - 1))]);
  const hi0 = q[q.length - 1];
  const span = hi0 - lo0 > 0 ? hi0 - lo0 : 1;
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const lo = Math.max(Math.min(lo0, min), lo0 - span);
  const hi = Math.min(Math.max(hi0, max), hi0 + span);
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const reference = edges.slice(1).map((e, i) => Math.max(0, (i === bins - 1 ? 1 : percentileOf(cal, e)) - (i === 0 ? 0 : percentileOf(cal, edges[i]))));
  const counts = new Array<number>(bins).fill(0);
  let outside = 0;
  for (const s of scores) {
    if (s < lo || s > hi) outside++;
    counts[Math.min(bins - 1, Math.max(0, Math.floor((s - lo) / width)))]++;
  }
  const n = Math.max(1, scores.length);
  return { edges, reference, window: counts.map((c) => c / n), records: scores.length, outside: outside / n, threshold: cal.threshold };
}

/** Each feature's distributions and PSI as the drift window measured them (once it holds enough records), most drifted first. */
function featureDrift(refs: readonly FeatureReference[], window: WindowContents | null): FeatureDrift[] {
  const features = refs.map((ref, j) => {
    const measured = window?.features[j];
    return { feature: ref.name, kind: ref.kind, psi: measured?.psi ?? null, bins: binLabels(ref), reference: ref.shares, window: measured?.window ?? new Array<number>(ref.shares.length).fill(0) };
  });
  return window === null || window.psi === null ? features : features.sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0));
}

/**
 * Numbers short enough for bin labels, with as many significant digits (4 at least) as it takes
 * for neighbouring edges to read apart (1013.2 and 1013.7, not 1013 and 1013).
 */
function shortNumbers(edges: readonly number[]): (x: number) => string {
  let digits = 4;
  const text = (x: number, p: number): string => String(Number(x.toPrecision(p)));
  const apart = (p: number): boolean => edges.every((x, i) => i === 0 || text(edges[i - 1] as number, p) !== text(x, p));
  while (digits < 15 && !apart(digits)) digits++;
  return (x) => text(x, digits);
}

/** The labels of a reference's bins: value ranges or categories, then "other" (categories) and "missing". */
export function binLabels(ref: FeatureReference): string[] {
  if (ref.kind === 'categorical') return [...ref.categories, '(other)', '(missing)'];
  const e = ref.edges;
  if (e.length === 0) return ['(any value)', '(missing)'];
  // With outer bins the last edge lies just above the training data's highest value: told apart
  // from it by no number of digits.
  const short = shortNumbers(ref.outer ? e.slice(0, -1) : e);
  const ranges = [`< ${short(e[0] as number)}${ref.outer ? ' (below training)' : ''}`];
  for (let i = 1; i < e.length; i++) {
    const [from, to] = [short(e[i - 1] as number), short(e[i] as number)];
    // A bin of one value (a repeated highest value) is named by it.
    ranges.push(from === to ? from : `${from} to ${to}`);
  }
  ranges.push(ref.outer ? `> ${short(e[e.length - 1] as number)} (above training)` : `>= ${short(e[e.length - 1] as number)}`);
  return [...ranges, '(missing)'];
}
