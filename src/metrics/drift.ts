/** Drift statistics of a window of recent records against a model's reference. Pure functions and one data structure. */
import { type FeatureReference, PERCENTILE_BINS, percentileBin } from '../nce';

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
    const e = Math.max(expected[i], PSI_EPSILON);
    const a = Math.max(actual[i] ?? 0, PSI_EPSILON);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/**
 * Score PSI's bins, as upper edges in percentile: the lowest fifth of the reference is one bin and
 * the rest are deciles. Reference data holds anomalies, and they take its lowest percentiles; clean
 * traffic leaves those near-empty. Deciles there read a reference holding 7% anomalies as drift
 * (PSI 0.08-0.13 on shuttle's clean test records); one bin for the lowest fifth does not, while
 * traffic that moves into the low scores fills it and still reads as a large shift.
 */
const PSI_EDGES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

/**
 * Score PSI's bins below the median of the reference (the first four) count only what the window
 * holds there beyond the reference's share. The reference's anomalies score there, and traffic
 * holding fewer of them than the reference did is not drift towards the out-of-distribution: read
 * as drift, it raised a false alarm on every clean window of references a fifth or more anomalies
 * (bench:drift, windows of 1,000 test normals: magic_gamma 0.24, skin 0.16, internetads 0.10). A
 * shift of the traffic into low scores fills those bins and still reads in full; one into high
 * scores reads in the upper bins it fills.
 */
const EXCESS_ONLY_BINS = PSI_EDGES.filter((edge) => edge <= 0.5).length;

/** Uniform shares over the percentile bins: the reference of artifacts that store none. */
const UNIFORM = new Array<number>(PERCENTILE_BINS).fill(1 / PERCENTILE_BINS);

/** Fine percentile-bin shares summed into the PSI bins. */
function psiBins(shares: readonly number[]): number[] {
  const out = new Array<number>(PSI_EDGES.length).fill(0);
  let group = 0;
  shares.forEach((v, i) => {
    while ((i + 0.5) / shares.length > PSI_EDGES[group]) group++;
    out[group] += v;
  });
  return out;
}

/** How many records each side of a PSI was counted from. */
export interface SampleSizes {
  reference: number;
  window: number;
}

/**
 * The PSI two samples of one distribution show on average, by chance alone: the sum over the bins
 * the reference has records in of what each side's sampling adds to the bin. For the reference,
 * whose bins are its own quantiles (or counts over a training set), that is (1 - share) / n, so
 * (bins - 1)(1/n + 1/m) over all bins where both sides are dense (PSI is a symmetrised chi-square
 * divergence); bins `skipped` marks add nothing (see {@link scorePsi}). For the window, counted over m records, a bin of few expected records (a rare
 * category in a window of 100) is often empty and then counts at PSI_EPSILON, which the chi-square
 * reading overstates: its expectation is summed over the Poisson counts. A size of 0 is read as
 * unknown and adds nothing. A held-out reference of 40 records (a model of 200 rows) puts it at 0.2
 * whatever the window's size: the plug-in PSI of such a model would read clean traffic as drift.
 */
export function psiNoise(expected: readonly number[], sizes: SampleSizes, skipped?: readonly boolean[]): number {
  const n = sizes.reference;
  let total = 0;
  expected.forEach((e, i) => {
    if (e > 0 && !skipped?.[i]) total += (n > 0 ? (1 - e) / n : 0) + windowBinNoise(e, sizes.window);
  });
  return total;
}

/** Expected records in a bin from which the chi-square reading of its PSI term holds. */
const DENSE_BIN = 10;

/** The expected PSI term of a bin of share `e` counted over a window of `n` records, against `e` itself. */
function windowBinNoise(e: number, n: number): number {
  if (!(n > 0)) return 0;
  const mean = n * e;
  if (mean >= DENSE_BIN) return (1 - e) / n;
  const expected = Math.max(e, PSI_EPSILON);
  let total = 0;
  let p = Math.exp(-mean);
  const last = Math.ceil(mean + 10 * Math.sqrt(mean) + 10);
  for (let k = 0; k <= last; k++) {
    if (k > 0) p *= mean / k;
    const a = Math.max(k / n, PSI_EPSILON);
    total += p * (a - expected) * Math.log(a / expected);
  }
  return total;
}

/**
 * PSI of two samples less {@link psiNoise}, floored at 0: an estimate of the PSI between the
 * distributions they were drawn from, where the plug-in value overstates it by the noise. Large
 * samples leave it nearly unchanged (0.01 at 1,000 reference and 5,000 window records over 9 bins).
 */
export function samplePsi(expected: readonly number[], actual: readonly number[], sizes: SampleSizes, skipped?: readonly boolean[]): number {
  return Math.max(0, psi(expected, actual) - psiNoise(expected, sizes, skipped));
}

/**
 * PSI of a window's values of one feature against its reference, as {@link samplePsi}. The bins
 * beyond a numeric feature's training range count only what the window holds there beyond the
 * reference's share: that share is a guess (a unique lowest or highest value is taken as a
 * continuous reading's, about 1 / (n + 2)), and a capped or rounded feature (an age capped at 100,
 * held by one training record) never exceeds its range; fewer values beyond it than guessed is no
 * shift, and read as one (0.18 of PSI at 30 training records) it fired the feature alert on clean
 * traffic.
 */
export function featurePsi(ref: FeatureReference, window: readonly number[], sizes: SampleSizes): number {
  if (ref.kind !== 'numeric' || !ref.outer) return samplePsi(ref.shares, window, sizes);
  const outer = new Set([0, ref.edges.length]);
  return excessOnlyPsi(ref.shares, window, (b) => outer.has(b), sizes);
}

/**
 * PSI in which the bins `excessOnly` picks count only what `actual` holds there beyond
 * `expected`'s share. Such a bin that holds no more than its share counts nothing, and so takes off
 * no chance level either: it shows its chance level only when it holds an excess, which happens
 * about half the time by chance, so the correction stays right on average. (Taken off for every
 * such bin, it hid a shift of a whole window of scores above the median on small models: an
 * outside review.) Less the chance level when the sizes are given (as {@link samplePsi}), else the
 * plug-in value.
 */
function excessOnlyPsi(expected: readonly number[], window: readonly number[], excessOnly: (bin: number) => boolean, sizes?: SampleSizes): number {
  const clipped = expected.map((e, b) => excessOnly(b) && (window[b] ?? 0) <= e);
  const actual = window.map((a, b) => (clipped[b] ? (expected[b] as number) : a));
  return sizes ? samplePsi(expected, actual, sizes, clipped) : psi(expected, actual);
}

/**
 * PSI of a window's score percentiles over {@link PSI_EDGES}, against the reference records' own
 * shares (uniform when the artifact stores none), the bins below the median counting only an
 * excess ({@link EXCESS_ONLY_BINS}): less its chance level when the sizes are given (as
 * {@link samplePsi}), else the plug-in value.
 * @param reference - shares per {@link percentileBin} of the held-out reference records
 * @param window - shares per {@link percentileBin} of the window
 */
export function scorePsi(reference: readonly number[] | undefined, window: readonly number[], sizes?: SampleSizes): number {
  return excessOnlyPsi(psiBins(reference ?? UNIFORM), psiBins(window), (b) => b < EXCESS_ONLY_BINS, sizes);
}

/**
 * Kolmogorov-Smirnov statistic of a window's score percentiles against the reference records':
 * the largest gap between their cumulative shares at the percentile bins' edges.
 */
export function scoreKs(reference: readonly number[] | undefined, window: readonly number[]): number {
  const ref = reference ?? UNIFORM;
  let a = 0;
  let b = 0;
  let d = 0;
  for (let i = 0; i < window.length; i++) {
    a += ref[i] ?? 0;
    b += window[i];
    d = Math.max(d, Math.abs(a - b));
  }
  return d;
}

/**
 * A sliding window of recent records: at most `capacity` of them, none older than `maxAgeMs`.
 * Adding a record only stores it (its time, percentile and feature bins in ring buffers); the bin
 * counts are tallied when statistics are asked for, at most once per change. Records arrive
 * thousands of times more often than statistics are read (a scrape every few seconds), so a
 * tally of the whole window per read costs far less than keeping counts current per record.
 */
export class DriftWindow {
  private readonly times: Float64Array;
  private readonly percentiles: Float64Array;
  /** Per record, each feature's bin: record slot s holds features [s * f, (s + 1) * f). */
  private readonly bins: Uint16Array;
  private start = 0;
  private count = 0;
  private edits = 0;
  private tally: { edits: number; score: number[]; features: number[][] } | undefined;

  /** @param featureBins - number of bins of each monitored feature (at most 65,536) */
  constructor(
    readonly capacity: number,
    readonly maxAgeMs: number,
    private readonly featureBins: readonly number[],
  ) {
    this.times = new Float64Array(capacity);
    this.percentiles = new Float64Array(capacity);
    this.bins = new Uint16Array(capacity * featureBins.length);
  }

  /** Each feature's bin counts in the window. */
  get featureCounts(): number[][] {
    return this.tallied().features;
  }

  /** The window's score percentiles counted per {@link percentileBin}. */
  get scoreCounts(): number[] {
    return this.tallied().score;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes its buffers hold, full or not: they are allocated at its capacity. */
  get bytes(): number {
    return this.times.byteLength + this.percentiles.byteLength + this.bins.byteLength;
  }

  /** Grows whenever records are added or dropped: equal values mean equal contents. */
  get changes(): number {
    return this.edits;
  }

  /**
   * Adds records `from` to the last of a batch scored at `now`: record i's score percentile and,
   * at `bins[(i - from) * f + j]`, the bin of its feature j. A batch larger than the window leaves
   * its last `capacity` records.
   */
  add(now: number, percentiles: ArrayLike<number>, bins: ArrayLike<number>, from = 0): void {
    const f = this.featureBins.length;
    const n = percentiles.length;
    const first = Math.max(from, n - this.capacity);
    if (first >= n) return;
    for (let i = first; i < n; i++) {
      if (this.count === this.capacity) this.dropOldest();
      const slot = (this.start + this.count) % this.capacity;
      this.times[slot] = now;
      this.percentiles[slot] = percentiles[i];
      for (let j = 0; j < f; j++) this.bins[slot * f + j] = bins[(i - from) * f + j];
      this.count++;
    }
    this.edits++;
  }

  /** Drops records older than `maxAgeMs` before `now`. */
  evict(now: number): void {
    while (this.count > 0 && this.times[this.start] < now - this.maxAgeMs) this.dropOldest();
  }

  /** The percentiles in the window, oldest first (what the score bins are tallied from). */
  percentileValues(): number[] {
    const out = new Array<number>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.percentiles[(this.start + i) % this.capacity];
    return out;
  }

  /** Window shares of one bin-count array. */
  shares(counts: readonly number[]): number[] {
    return counts.map((c) => c / Math.max(1, this.count));
  }

  private dropOldest(): void {
    this.start = (this.start + 1) % this.capacity;
    this.count--;
    this.edits++;
  }

  private tallied(): { score: number[]; features: number[][] } {
    if (this.tally?.edits === this.edits) return this.tally;
    const f = this.featureBins.length;
    const score = new Array<number>(PERCENTILE_BINS).fill(0);
    const features = this.featureBins.map((k) => new Array<number>(k).fill(0));
    for (let i = 0; i < this.count; i++) {
      const slot = (this.start + i) % this.capacity;
      score[percentileBin(this.percentiles[slot])]++;
      for (let j = 0; j < f; j++) features[j][this.bins[slot * f + j]]++;
    }
    this.tally = { edits: this.edits, score, features };
    return this.tally;
  }
}
