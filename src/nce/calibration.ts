import { quantileSorted } from './schema';

/** Points of the stored reference quantile table. */
const QUANTILE_POINTS = 201;

/**
 * Bins of a percentile whose shares among the held-out reference records a calibration stores:
 * hundredths. Drift compares recent traffic with these shares (PSI over the lowest fifth and
 * the deciles above it, the hundredths summed; KS over the hundredths), not with a uniform
 * distribution, which they are not when reference records tie (duplicate rows, discrete features).
 */
export const PERCENTILE_BINS = 100;

/** The bin of a percentile in [0, 1]. */
export function percentileBin(p: number): number {
  return Math.min(PERCENTILE_BINS - 1, Math.max(0, Math.floor(p * PERCENTILE_BINS)));
}

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
  /**
   * Share of the held-out reference records in each {@link percentileBin} of their own
   * percentiles. Absent in artifacts from before it was stored: read as uniform.
   */
  referenceShares?: number[];
}

/**
 * Calibrates on held-out reference scores, as they are: reference data that holds anomalies puts
 * part of the `targetFpr` share among them, so clean traffic is flagged less often than
 * `targetFpr` (see `npm run bench:drift`). Leaving "far out" scores out first (Tukey's 3 IQR, and
 * up to 10 IQR) was measured and rejected: score distributions have long lower tails, and it
 * flagged 3-10% of clean traffic on aloi, smtp, mammography and spambase.
 * @param targetFpr - share of new records distributed as the reference that should be flagged
 */
export function calibrate(referenceScores: ArrayLike<number>, targetFpr: number): Calibration {
  if (referenceScores.length === 0) throw new RangeError('calibrate: needs at least one reference score');
  const sorted = Float64Array.from(referenceScores).sort();
  const quantiles: number[] = [];
  for (let i = 0; i < QUANTILE_POINTS; i++) quantiles.push(quantileSorted(sorted, i / (QUANTILE_POINTS - 1)));
  const c: Calibration = { targetFpr, threshold: thresholdAt(sorted, targetFpr), quantiles, referenceCount: sorted.length };
  const shares = new Array<number>(PERCENTILE_BINS).fill(0);
  for (const s of sorted) shares[percentileBin(percentileOf(c, s))] += 1 / sorted.length;
  return { ...c, referenceShares: shares };
}

/**
 * The score a new record of the reference's distribution falls below with probability `p`: the
 * reference's order statistic at rank p (n + 1), interpolated, since a fresh draw lies below the
 * k-th lowest of n with probability k / (n + 1). The usual interpolated quantile sits at rank
 * p (n - 1) + 1 instead, and flags more than `p` of such records wherever the reference is small
 * (at `p` 0.01: 2% with 100 held-out records, 3.4% with 40). Below rank 1 (fewer than 1/p - 1
 * records) it is the lowest score, which such a record falls below with probability 1 / (n + 1).
 */
export function thresholdAt(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, p * (n + 1)));
  const below = Math.floor(rank);
  if (below >= n) return sorted[n - 1];
  return sorted[below - 1] + (rank - below) * (sorted[below] - sorted[below - 1]);
}

/**
 * Share of reference records scoring lower than `score`, counting ties as half (mid-ranks),
 * interpolated in the quantile table: 0 below the lowest reference score, 1 above the highest, and
 * a score that many reference records share sits in the middle of their run, not at its top.
 */
export function percentileOf(c: Calibration, score: number): number {
  const q = c.quantiles;
  const m = q.length - 1;
  if (!(score >= q[0])) return 0;
  if (score > q[m]) return 1;
  // first: the first entry >= score; last: the last entry <= score.
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (q[mid] < score) lo = mid + 1;
    else hi = mid;
  }
  const first = lo;
  hi = m;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (q[mid] <= score) lo = mid;
    else hi = mid - 1;
  }
  const last = lo;
  if (q[first] === score) return (first + last) / 2 / m;
  // q[first - 1] < score < q[first]
  const below = first - 1;
  return (below + (score - q[below]) / (q[first] - q[below])) / m;
}
