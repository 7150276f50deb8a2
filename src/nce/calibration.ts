import { quantileSorted } from './schema';

/** Points of the stored reference quantile table. */
const QUANTILE_POINTS = 201;

/** How a model turns a score into a percentile and an `ood` flag, from held-out reference scores. */
export interface Calibration {
  /** False-positive rate the threshold was set for. */
  targetFpr: number;
  /** Scores below this are `ood`. */
  threshold: number;
  /** Reference score quantiles at evenly spaced levels 0..1. */
  quantiles: number[];
  /** How many held-out reference records the table summarises. */
  referenceCount: number;
}

/**
 * Calibrates on held-out reference scores.
 * @param targetFpr - share of reference records that should be flagged
 */
export function calibrate(referenceScores: ArrayLike<number>, targetFpr: number): Calibration {
  if (referenceScores.length === 0) throw new RangeError('calibrate: needs at least one reference score');
  const sorted = Float64Array.from(referenceScores).sort();
  const quantiles: number[] = [];
  for (let i = 0; i < QUANTILE_POINTS; i++) quantiles.push(quantileSorted(sorted, i / (QUANTILE_POINTS - 1)));
  return { targetFpr, threshold: quantileSorted(sorted, targetFpr), quantiles, referenceCount: sorted.length };
}

/**
 * Share of reference records scoring lower than `score`, interpolated in the quantile table;
 * 0 below the lowest reference score, 1 above the highest.
 */
export function percentileOf(c: Calibration, score: number): number {
  const q = c.quantiles;
  const m = q.length - 1;
  if (!(score > q[0])) return 0;
  if (score >= q[m]) return 1;
  let lo = 0;
  let hi = m;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (q[mid] <= score) lo = mid;
    else hi = mid;
  }
  const span = q[hi] - q[lo];
  const frac = span > 0 ? (score - q[lo]) / span : 0;
  return (lo + frac) / m;
}
