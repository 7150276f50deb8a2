import { quantileSorted } from './schema';

/** Points of the stored reference quantile table. */
const QUANTILE_POINTS = 201;

/**
 * Bins of a percentile whose shares among the held-out reference records a calibration stores:
 * hundredths. Drift compares recent traffic with these shares (PSI over the lowest fifth and
 * the deciles above it, the hundredths summed, below the median only an excess counting; KS over
 * the hundredths), not with a uniform
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
  /**
   * Share of the reference records the training config said are anomalies, which the threshold
   * flags besides `targetFpr` of the others. Absent when 0 (and in artifacts from before it existed).
   */
  contamination?: number;
  /**
   * Share of the held-out reference records that carried a value no other reference record had
   * (a category seen once, the only missing value of a field): the Good-Turing estimate of how
   * often a new record carries a value never seen, which is always flagged. The threshold flags
   * that much less of the rest, so that `targetFpr` counts both. Absent when 0 (and in older artifacts).
   */
  novelty?: number;
  /**
   * Share of the held-out reference records (those without a value never seen) below the
   * threshold where the reference's lower tail, or the far-out fence, raised it above the order
   * statistic of the share asked for (see {@link calibrate}, {@link fencedThreshold}): new records
   * distributed as the reference are flagged that often. Absent when neither raised it (and in
   * older artifacts).
   */
  tailShare?: number;
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
 * The share of new records of the reference's distribution the threshold is asked to flag: the
 * stated `contamination`, plus `targetFpr` of the rest.
 */
function askedShare(targetFpr: number, contamination: number): number {
  return contamination + targetFpr * (1 - contamination);
}

/**
 * The share of the records without a value never seen that the threshold flags, so that with the
 * `novelty` share always flagged the whole is `share` (0 where novelty alone is more).
 */
function keptShare(share: number, novelty: number): number {
  return Math.max(0, (share - novelty) / (1 - novelty));
}

/**
 * Calibrates on held-out reference scores. The threshold is the reference's order statistic at the
 * share asked for (`targetFpr`), or, where that lies further out than the reference's lower tail
 * reaches, the tail's point ({@link tailThreshold}): reference data that holds anomalies fills the
 * lowest `targetFpr` of its scores with them, and the order statistic alone then sits among them,
 * flagging clean traffic far less often than asked (musk, 3% anomalies: none of its clean records;
 * satimage_2, 1.2%: 0.3%). With no anomalies there, the tail's point lies at or below the order
 * statistic wherever the lower tail falls off at least as fast as an exponential, and a little above
 * it where the tail is heavier (`npm run bench:drift` and the README's Scores section give both).
 * A stated `contamination` c moves the threshold to the reference's share c + targetFpr (1 - c): the
 * lowest c of the reference taken as its anomalies, `targetFpr` of the rest below it, as
 * `contamination` does in PyOD. Clean traffic is then flagged at about `targetFpr` where the
 * anomalies score below the normal records, and more often where they mix with them.
 * @param targetFpr - share of new records distributed as the reference's normal records that should be flagged
 * @param contamination - share of the reference records known or expected to be anomalies
 */
export function calibrate(referenceScores: ArrayLike<number>, targetFpr: number, contamination = 0, novel?: ArrayLike<boolean>): Calibration {
  if (referenceScores.length === 0) throw new RangeError('calibrate: needs at least one reference score');
  const n = referenceScores.length;
  // Records with a value never seen are flagged whatever their score: the threshold is set on the
  // others, at the share that makes the whole flagged share the one asked for.
  const others = novel === undefined ? [] : Array.from(referenceScores).filter((_, i) => !novel[i]);
  // Every held-out record novel (a reference of a few records): nothing to set a threshold on but them.
  const kept = others.length > 0 ? others : Array.from(referenceScores);
  const sorted = Float64Array.from(kept).sort();
  const novelty = (n - kept.length) / n;
  const quantiles: number[] = [];
  for (let i = 0; i < QUANTILE_POINTS; i++) quantiles.push(quantileSorted(sorted, i / (QUANTILE_POINTS - 1)));
  const share = keptShare(askedShare(targetFpr, contamination), novelty);
  const atShare = thresholdAt(sorted, share);
  // A stated contamination says where the anomalies end: the tail is not asked then. Nor where the
  // order statistic sits on a run of tied scores (a repeated row, discrete data): a record that
  // ties with them is not flagged, and the tail would flag every one of them.
  const tail = contamination > 0 || tiedAt(sorted, atShare) ? null : (tailThreshold(sorted, share) ?? fencedThreshold(sorted, share));
  const raised = tail !== null && tail > atShare;
  const c: Calibration = {
    targetFpr,
    ...(contamination > 0 ? { contamination } : {}),
    ...(novelty > 0 ? { novelty } : {}),
    ...(raised ? { tailShare: shareBelow(sorted, tail) } : {}),
    threshold: raised ? tail : atShare,
    quantiles,
    referenceCount: n,
  };
  return { ...c, referenceShares: newRecordShares(c, sorted, novelty) };
}

/**
 * The shares of the percentile bins that new records distributed as the reference fall in. The
 * novel ones score below every other (percentile 0). Of the rest, each of the n + 1 gaps around the
 * n sorted held-out scores is equally likely (below the lowest: percentile 0; above the highest:
 * 1; a tied run at either end is its own percentile there), and within a gap the percentile runs evenly between those of the scores on either side, as
 * {@link percentileOf} interpolates; a gap between tied scores is their one (mid-rank) percentile.
 * The held-out records' own percentiles would leave bins between them empty where they are few (at
 * 6 held-out records, 3 of 10 deciles), and clean traffic, which lands in those bins, would read as
 * drift.
 */
function newRecordShares(c: Calibration, sorted: Float64Array, novelty: number): number[] {
  const shares = new Array<number>(PERCENTILE_BINS).fill(0);
  shares[0] += novelty;
  const gap = (1 - novelty) / (sorted.length + 1);
  // Beyond the lowest and the highest score: percentile 0 and 1, unless the extreme is a run of
  // tied scores (duplicate rows, discrete data), which new records tie with rather than pass.
  const lowest = percentileOf(c, sorted[0]);
  const highest = percentileOf(c, sorted[sorted.length - 1]);
  shares[percentileBin(lowest)] += gap;
  shares[percentileBin(highest)] += gap;
  let from = lowest;
  for (let k = 1; k < sorted.length; k++) {
    const to = percentileOf(c, sorted[k]);
    spread(shares, from, to, gap);
    from = to;
  }
  return shares;
}

/** Adds `mass` to the bins of the percentiles in [from, to], in proportion to their overlap with it (all of it to one bin for a point). */
function spread(shares: number[], from: number, to: number, mass: number): void {
  const first = percentileBin(from);
  const last = percentileBin(to);
  if (to - from <= 1e-12 || first === last) {
    shares[first] += mass;
    return;
  }
  for (let b = first; b <= last; b++) {
    const overlap = Math.min(to, (b + 1) / PERCENTILE_BINS) - Math.max(from, b / PERCENTILE_BINS);
    shares[b] += (mass * Math.max(0, overlap)) / (to - from);
  }
}

/**
 * The share of new records distributed as the reference (its anomalies included) that the
 * threshold flags: the share asked for (`contamination`, plus `targetFpr` of the rest, values never
 * seen among them), or the share below a threshold the reference's tail raised (`tailShare`),
 * or the share that carries a value never seen where that is more, or, with
 * too few held-out records to calibrate that share, the 1 / (n + 1) that fall below the lowest of
 * them (see {@link thresholdAt}).
 */
export function expectedFlaggedShare(c: Calibration): number {
  const novelty = c.novelty ?? 0;
  // The threshold is set on the records without such values: at least the lowest of them.
  const others = Math.round(c.referenceCount * (1 - novelty));
  return novelty + (1 - novelty) * Math.max(keptShare(askedShare(c.targetFpr, c.contamination ?? 0), novelty), c.tailShare ?? 0, 1 / (others + 1));
}

/**
 * A sentence for the training summary when `heldOut` records are too few to calibrate the
 * threshold at the share asked for (its rank p (n + 1) below 1, see {@link thresholdAt}), else
 * null: the threshold is then the lowest held-out score, flagging about 1 / (n + 1) of clean
 * records whatever `targetFpr` says, and with so few records that lowest score swings widely from
 * one training to the next.
 * @param validationSplit - share of training records held out, to say how many records would do
 */
export function calibrationWarning(heldOut: number, targetFpr: number, contamination: number, validationSplit: number): string | null {
  const share = askedShare(targetFpr, contamination);
  if (share <= 0) {
    return `targetFpr 0 puts the ood threshold at the lowest of the ${heldOut} held-out scores: about ${(1 / (heldOut + 1)).toPrecision(2)} of clean records will still be flagged (a new record falls below the lowest of n with probability 1/(n + 1)), not none; set targetFpr to the share of clean records you accept to flag`;
  }
  if (share * (heldOut + 1) >= 1) return null;
  const needed = Math.ceil((1 / share - 1) / validationSplit);
  return `the ood threshold is calibrated on ${heldOut} held-out records, too few for targetFpr ${targetFpr}${contamination > 0 ? ` at contamination ${contamination}` : ''}: it is the lowest of their scores (from 30 records, of those not far below all the others), so about ${(1 / (heldOut + 1)).toPrecision(2)} of clean records will be flagged, and that lowest score varies widely between trainings: one unusual held-out record (an anomaly in the reference, where it holds any) can set it far below the others, and then next to no clean record and few anomalies are flagged, even grossly shifted records scoring above it (watch the score and feature drift, which still see them); train on at least ${needed} records, or raise targetFpr, for a threshold that means the share asked for`;
}

/** How many of the tail's scales (see {@link outlyingLowWarning}) the threshold may lie below the tail's point unsaid. */
const FAR_BELOW_SCALES = 8;

/**
 * A sentence for the training summary when the threshold lies far below where the reference's
 * lower tail puts the share asked for (more than {@link FAR_BELOW_SCALES} of its scales below
 * {@link tailThreshold}'s point), else null. That happens where the order statistic stands (its
 * rank p (n + 1) below 2: 39 to 198 held-out records at 0.01, where the tail may not raise it;
 * below 99 it is the lowest score) and the lowest held-out scores lie far out from all the others:
 * anomalies in the reference, or records rare in a way no other is, which then set the threshold,
 * so records scoring between them and the rest are never flagged (outside probes: digits, 115
 * held-out records, the two lowest at -9,177 and -4,082, the next at -223: no test record flagged,
 * anomalies included; 540 features, 60 held-out records, the lowest at -1,921 and clean records
 * near -82: a record with one field 5 times its size scored -1,666, not flagged). On a clean
 * reference it fires in 1-2% of trainings where the tail falls off exponentially (39 to 115
 * records; chi-square 0.5-2%), more where it is heavier (Student-t, 5 degrees of freedom: 3-4%;
 * a lognormal: 6-8%), simulated.
 */
export function outlyingLowWarning(c: Calibration, referenceScores: ArrayLike<number>, novel?: ArrayLike<boolean>): string | null {
  if (c.contamination !== undefined) return null;
  // As the threshold was set: on the records without a value never seen.
  const sorted = Float64Array.from(Array.from(referenceScores).filter((_, i) => !novel?.[i])).sort();
  const n = sorted.length;
  const p = keptShare(askedShare(c.targetFpr, 0), c.novelty ?? 0);
  // Where the threshold is an order statistic below rank 2 (the lowest score where records are
  // too few for p, which calibrationWarning speaks of only in general): from rank 2 on the tail
  // raises the threshold itself. The tail's two order statistics need ranks of 2 or more.
  if (!(p > 0 && p < TAIL_FROM) || TAIL_FROM * (n + 1) < TAIL_MIN_RANK || p * (n + 1) >= TAIL_MIN_RANK) return null;
  const tail = lowerTail(sorted);
  if (tail === null) return null;
  const point = tail.at(p);
  const far = point - FAR_BELOW_SCALES * tail.scale;
  if (!(c.threshold < far)) return null;
  const out = sorted.filter((x) => x < far);
  const fmt = (x: number): string => x.toPrecision(4);
  return `the ood threshold (${fmt(c.threshold)}) is set by ${out.length === 1 ? 'one held-out record' : `${out.length} held-out records`} scoring far below all the others (${Array.from(out.subarray(0, 3), fmt).join(', ')}${out.length > 3 ? ' ...' : ''}; the rest of the reference's lower tail puts the share asked for near ${fmt(point)}): anomalies in the reference, or records rare in a way no other is. Records scoring between them and the rest, anomalies included, are not flagged. If they are anomalies, clean them from the reference, or state the reference's share of anomalies as contamination`;
}

/**
 * A sentence for the training summary when more of the held-out records than `targetFpr` carry a
 * value no other reference record has (see `Calibration.novelty`), else null: about that share of
 * new records will carry a value never seen and be flagged, whatever the threshold.
 */
export function noveltyWarning(heldOut: number, novel: number, targetFpr: number, contamination: number): string | null {
  const share = askedShare(targetFpr, contamination);
  if (heldOut === 0 || novel === heldOut || novel / heldOut <= share) return null;
  const pct = (v: number): string => `${(100 * v).toPrecision(2)}%`;
  return `${novel} of the ${heldOut} held-out records (${pct(novel / heldOut)}) ${novel === 1 ? 'carries' : 'carry'} a value no other reference record has (a category seen once, a field's only missing value): about that share of new records will carry a value never seen and be flagged, more than the ${pct(share)} asked for; more reference records make such values recur, or send fields of rare codes as numbers where their codes have an order`;
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

/** Shares of the reference whose order statistics the lower tail is fitted through (see {@link tailThreshold}). */
const TAIL_FROM = 0.05;
const TAIL_TO = 0.1;
/**
 * Least rank p (n + 1) of the order statistic the tail may raise (n 199 or more at 0.01): the
 * higher of two estimates is biased high, the more so the fewer the records (clean normal scores:
 * 1.4% flagged at 99 held-out records, 1.0% at 1,000; Laplace: 1.65% and 1.2%).
 */
const TAIL_MIN_RANK = 2;

/**
 * The score a new record falls below with probability `p` by the reference's lower tail taken as
 * exponential (log P(score < s) linear in s) through its order statistics at shares 0.05 and 0.1,
 * extrapolated down to `p`; null where `p` is not below 0.05, the reference is too small for the
 * order statistic at `p` to have a rank of 2 or more ({@link TAIL_MIN_RANK}), or the two order
 * statistics tie.
 * A cluster of anomalies in the lowest few percent of the reference (fewer than about 5%) moves
 * neither order statistic much, so this point stays with the normal records' tail while the order
 * statistic at `p` falls among the anomalies. The tail of a log density falls off about
 * exponentially where the data's is Gaussian (a chi-square's), and faster where its scores are
 * bounded below more sharply: there the point lies below the order statistic, and the order
 * statistic stands.
 */
export function tailThreshold(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (!(p > 0 && p < TAIL_FROM) || p * (n + 1) < TAIL_MIN_RANK) return null;
  return lowerTail(sorted)?.at(p) ?? null;
}

/**
 * The reference's lower tail taken as exponential through its order statistics at shares 0.05
 * and 0.1: its scale (nats per factor e of probability) and the score a new record falls below
 * with probability `p` by it; null where the two order statistics tie.
 */
function lowerTail(sorted: ArrayLike<number>): { scale: number; at: (p: number) => number } | null {
  const from = thresholdAt(sorted, TAIL_FROM);
  const to = thresholdAt(sorted, TAIL_TO);
  if (!(to > from)) return null;
  const scale = (to - from) / Math.log(TAIL_TO / TAIL_FROM);
  return { scale, at: (p) => from - scale * Math.log(TAIL_FROM / p) };
}

/** Fewest held-out records whose quartiles {@link fencedThreshold} reads. */
const FENCE_MIN_RECORDS = 30;
/** How many interquartile ranges below the lower quartile a held-out score lies "far out". */
const FAR_OUT_SPREADS = 4;

/**
 * The order statistic at `p` of the held-out scores at or above the far-out fence (the lower
 * quartile less {@link FAR_OUT_SPREADS} interquartile ranges), where some lie below it; null
 * where none does, the records are fewer than {@link FENCE_MIN_RECORDS}, or enough for the tail
 * ({@link tailThreshold}) to speak instead. With under 199 held-out records at 0.01 the order
 * statistic is the lowest score or near it, and in a reference holding a few anomalies that is one
 * of them, far below every normal record: no record scoring between them is flagged (outside
 * checks on unseen tables of 145-1,300 rows with 5-10% anomalies: an ionosphere threshold of
 * -504 against normal records near -30; gross corruptions of a housing table at -55 to -290,
 * one of 50 flagged). Scores that far below the middle half, a tenth of the records at most, are
 * taken for anomalies: they are flagged as they are, and the threshold is set on the rest. Where
 * the scores' own lower tail is long (a 1-D Gaussian's log density: 1.3% of clean records lie
 * beyond the fence) it flags clean records more often than asked, up to about twice at 40-100
 * records. Offline, on the seed-1 models of the
 * 35 `bench:drift` datasets and the 12 held-back tasks: the measured FPR within [0.005, 0.03] on
 * 25 of 35 as before and 6 → 8 of 12, recall on test anomalies 0.148 → 0.213 on the held-back
 * tasks (ionosphere 0.3 → 1.0); on clean references (halves of the test normals) the mean FPR
 * 1.79% → 1.93% and 1.75% → 2.20%.
 */
function fencedThreshold(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n < FENCE_MIN_RECORDS || !(p > 0) || p * (n + 1) >= TAIL_MIN_RANK) return null;
  const lower = quantileSorted(sorted, 0.25);
  const spread = quantileSorted(sorted, 0.75) - lower;
  if (!(spread > 0)) return null;
  const fence = lower - FAR_OUT_SPREADS * spread;
  let first = 0;
  while (first < n && sorted[first] < fence) first++;
  // More than a tenth that far out is a part of the data, not a few anomalies: a subpopulation
  // scoring low would otherwise be flagged whole, and the expected share with it, unsaid.
  if (first === 0 || first > FENCE_MAX_SHARE * n) return null;
  return thresholdAt(Array.from(sorted).slice(first), p);
}

/** Largest share of the held-out records {@link fencedThreshold} takes for anomalies. */
const FENCE_MAX_SHARE = 0.1;

/** Whether another reference score ties with `t` (within {@link scoreTolerance}) besides one at it. */
function tiedAt(sorted: ArrayLike<number>, t: number): boolean {
  let near = 0;
  for (let i = 0; i < sorted.length && near < 2; i++) if (Math.abs(sorted[i] - t) <= scoreTolerance(t)) near++;
  return near >= 2;
}

/** Share of the sorted reference scores below `t`, interpolated between two of them as {@link thresholdAt} places ranks: its inverse. */
function shareBelow(sorted: ArrayLike<number>, t: number): number {
  const n = sorted.length;
  let k = 0;
  while (k < n && sorted[k] < t) k++;
  if (k === 0) return 1 / (n + 1);
  if (k === n) return n / (n + 1);
  const lo = sorted[k - 1];
  const hi = sorted[k];
  return (k + (hi > lo ? (t - lo) / (hi - lo) : 0)) / (n + 1);
}

/** Largest {@link scoreTolerance}, in nats: far below a value never seen (1 nat or more) or the gap to the floor. */
const MAX_TOLERANCE = 1e-3;

/**
 * How far apart two scores of one record may come out and still be the same score: 1e-5 of its
 * size, at least 1e-5 and at most 1e-3 nats. The network runs in 32-bit floats, and how its sums
 * are ordered differs between a small batch (the host's forward pass), a large one (tfjs) and one
 * backend and the next: a record repeated in the reference scores a millionth of a nat apart
 * along them (log q is computed in 64-bit floats alike on every path). Reference records that tie
 * (duplicate rows, discrete features) would otherwise put a repeat of them at the top or the
 * bottom of their run, by that millionth, depending on its batch. The cap keeps the tolerance far
 * below what a value never seen costs and the distance to the score floor, however large the
 * scores: both must always be flagged.
 */
export function scoreTolerance(score: number): number {
  return Math.min(MAX_TOLERANCE, 1e-5 * Math.max(1, Math.abs(score)));
}

/**
 * Whether a score is `ood`: below the threshold by more than {@link scoreTolerance}, so that a
 * record that ties with the reference records the threshold sits on is flagged as they were not,
 * whichever path scored it.
 */
export function isFlagged(c: Pick<Calibration, 'threshold'>, score: number): boolean {
  return score < c.threshold - scoreTolerance(c.threshold);
}

/**
 * Share of reference records scoring lower than `score`, counting ties as half (mid-ranks),
 * interpolated in the quantile table: 0 below the lowest reference score, 1 above the highest, and
 * a score that many reference records share sits in the middle of their run, not at its top.
 * Entries within {@link scoreTolerance} of the score tie with it.
 */
export function percentileOf(c: Calibration, score: number): number {
  const q = c.quantiles;
  const m = q.length - 1;
  if (Number.isNaN(score)) return 0;
  const tolerance = scoreTolerance(score);
  const low = score - tolerance;
  const high = score + tolerance;
  if (q[0] > high) return 0;
  if (q[m] < low) return 1;
  // first: the first entry >= low; last: the last entry <= high.
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (q[mid] < low) lo = mid + 1;
    else hi = mid;
  }
  const first = lo;
  // Entries from first on may all lie above high: the search starts one below (q[0] <= high).
  lo = Math.max(0, first - 1);
  hi = m;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (q[mid] <= high) lo = mid;
    else hi = mid - 1;
  }
  const last = lo;
  if (last >= first) return (first + last) / 2 / m;
  // q[last] < low, high < q[first], last = first - 1
  return (last + (score - q[last]) / (q[first] - q[last])) / m;
}
