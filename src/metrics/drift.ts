/** Drift statistics of a window of recent records against a model's reference. Pure functions and one data structure. */

/** Share given to an empty bin, so PSI stays finite (the usual convention). */
export const PSI_EPSILON = 1e-4;

/**
 * Population stability index: sum over bins of (actual - expected) * ln(actual / expected).
 * Under 0.1 is stable, 0.1-0.25 a moderate shift, above 0.25 a large one.
 * @param expected - reference shares per bin (sum 1)
 * @param actual - window shares per bin (sum 1)
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] as number, PSI_EPSILON);
    const a = Math.max(actual[i] ?? 0, PSI_EPSILON);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/**
 * Kolmogorov-Smirnov statistic of percentiles against the uniform distribution on [0, 1]: the
 * largest gap between their empirical CDF and the identity. A model's percentiles are uniform
 * when the traffic is distributed like its reference data.
 */
export function ksUniform(percentiles: readonly number[]): number {
  const p = [...percentiles].sort((a, b) => a - b);
  const n = p.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const x = p[i] as number;
    d = Math.max(d, (i + 1) / n - x, x - i / n);
  }
  return d;
}

/** Bins of the score percentile: deciles, expected 0.1 each when nothing has drifted. */
export const PERCENTILE_BINS = 10;

/** The decile bin of a percentile in [0, 1]. */
export function percentileBin(p: number): number {
  return Math.min(PERCENTILE_BINS - 1, Math.max(0, Math.floor(p * PERCENTILE_BINS)));
}

/**
 * A sliding window of recent records: at most `capacity` of them, none older than `maxAgeMs`.
 * Keeps bin counts up to date as records enter and leave, so statistics cost O(bins).
 */
export class DriftWindow {
  private readonly times: Float64Array;
  private readonly percentiles: Float64Array;
  /** Per record and feature: the index of its bin in `counts` (feature offset + bin). */
  private readonly slots: Uint32Array;
  /** Every feature's bin counts, one after another from `offsets[j]`. */
  private readonly counts: Float64Array;
  private readonly offsets: Uint32Array;
  private start = 0;
  private count = 0;
  private edits = 0;
  readonly scoreCounts = new Array<number>(PERCENTILE_BINS).fill(0);

  /** @param featureBins - number of bins of each monitored feature */
  constructor(
    readonly capacity: number,
    readonly maxAgeMs: number,
    private readonly featureBins: readonly number[],
  ) {
    this.times = new Float64Array(capacity);
    this.percentiles = new Float64Array(capacity);
    this.slots = new Uint32Array(capacity * featureBins.length);
    this.offsets = new Uint32Array(featureBins.length);
    let total = 0;
    featureBins.forEach((k, j) => {
      this.offsets[j] = total;
      total += k;
    });
    this.counts = new Float64Array(total);
  }

  /** Each feature's bin counts in the window. */
  get featureCounts(): number[][] {
    return this.featureBins.map((k, j) => Array.from(this.counts.subarray(this.offsets[j], (this.offsets[j] as number) + k)));
  }

  get size(): number {
    return this.count;
  }

  /** Grows with every record added or dropped: equal values mean equal contents. */
  get changes(): number {
    return this.edits;
  }

  /** Adds one record: its score percentile and the bin of each feature (`bins[offset + j]` for feature j). */
  add(now: number, percentile: number, bins: ArrayLike<number>, offset = 0): void {
    if (this.count === this.capacity) this.dropOldest();
    const slot = (this.start + this.count) % this.capacity;
    this.times[slot] = now;
    this.percentiles[slot] = percentile;
    this.scoreCounts[percentileBin(percentile)]++;
    const f = this.featureBins.length;
    for (let j = 0; j < f; j++) {
      const c = (this.offsets[j] as number) + (bins[offset + j] as number);
      this.slots[slot * f + j] = c;
      this.counts[c]++;
    }
    this.count++;
    this.edits++;
  }

  /** Drops records older than `maxAgeMs` before `now`. */
  evict(now: number): void {
    while (this.count > 0 && (this.times[this.start] as number) < now - this.maxAgeMs) this.dropOldest();
  }

  /** The percentiles in the window (for KS). */
  percentileValues(): number[] {
    const out = new Array<number>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.percentiles[(this.start + i) % this.capacity] as number;
    return out;
  }

  /** Window shares of one bin-count array. */
  shares(counts: readonly number[]): number[] {
    return counts.map((c) => c / Math.max(1, this.count));
  }

  private dropOldest(): void {
    const slot = this.start;
    this.scoreCounts[percentileBin(this.percentiles[slot] as number)]--;
    const f = this.featureBins.length;
    for (let j = 0; j < f; j++) this.counts[this.slots[slot * f + j] as number]--;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
    this.edits++;
  }
}
