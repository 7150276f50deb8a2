import { categoryCode, categoryIndex, type DataRecord, type Feature, type FieldValue } from './schema';

/** Most categories a categorical reference keeps; the rest share one bin. */
export const REFERENCE_CATEGORIES = 20;

/** Bins of a numeric reference: deciles of the training values, and a bin of its own for each value a decile or more of them repeat. */
const NUMERIC_BINS = 10;

/**
 * How one feature was distributed in the training data, binned for drift monitoring. The last
 * share is the missing values'; for categories, the one before it is "any other category". With
 * `outer`, a numeric reference's first bin holds the values below the training data's lowest and
 * the bin before the missing one those above its highest (references stored before it had no
 * such bins: such values shared the lowest and highest deciles).
 */
export type FeatureReference =
  | { name: string; kind: 'numeric'; /** Ascending, distinct bin edges. */ edges: number[]; shares: number[]; outer?: true }
  | { name: string; kind: 'categorical'; categories: string[]; shares: number[] };

/** Bins every feature of `records` as the training data was binned. */
export function featureReference(records: readonly DataRecord[], schema: readonly Feature[]): FeatureReference[] {
  return schema.map((f) => {
    if (f.kind === 'numeric') {
      const present = records.map((r) => r[f.name]).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
      const cuts = new Set<number>();
      for (let k = 1; k < NUMERIC_BINS; k++) {
        const q = present[Math.floor((k * present.length) / NUMERIC_BINS)];
        if (q !== undefined) cuts.add(q);
      }
      // A value that a decile or more of the records hold (the zeros of a zero-inflated count, a
      // default) is a bin of its own: merged with its neighbours' values, a change in its share
      // (70% zeros becoming 50%) would read as half the shift it is.
      for (let i = 0; i < present.length; ) {
        let j = i;
        while (j < present.length && present[j] === present[i]) j++;
        if ((j - i) * NUMERIC_BINS >= present.length) {
          cuts.add(present[i]);
          if (j < present.length) cuts.add(present[j]);
        }
        i = j;
      }
      // Ties (a discrete feature) merge bins: edges stay distinct, above the lowest value, and every bin is non-empty.
      const edges = [...cuts].filter((q) => q > present[0]).sort((x, y) => x - y);
      const [lowest, highest] = [present[0], present[present.length - 1]];
      const above = highest === undefined ? Infinity : nextUp(highest);
      if (lowest === undefined || !Number.isFinite(above)) {
        const ref: FeatureReference = { name: f.name, kind: 'numeric', edges, shares: [] };
        return { ...ref, shares: shares(ref, records) };
      }
      // Values beyond the training range get bins of their own: a broken sensor's sentinel (-1
      // where idle read 0, 9999) would otherwise join the lowest or highest decile and read as
      // little or no drift. How often a new record lands there, estimated leaving each record out
      // in turn: only a lowest (highest) value held by one record lies beyond all the others, so
      // the bin counts one record more when the extreme is unique (a continuous reading: about
      // 1 / (n + 2)) and none when it repeats (a count's zeros, a constant, an integer code),
      // where clean traffic never lands beyond it and the bin's share of 0 keeps it from reading
      // as drift; but see `gridded`.
      // A reading on a grid (whole mg/dL, a price in cents) repeats its extremes by chance alone:
      // an extreme that at most two records hold, of a feature of many values, counts as one
      // held once (a probe's glucose readings, the highest twice among 200: 3.5% of clean records
      // above it read as feature PSI 0.3 against a share of 0).
      const gridded = distinctCount(present) >= GRID_VALUES;
      const rare = (at: number, step: number): boolean => present[at + step] !== present[at] || (gridded && present[at + 2 * step] !== present[at]);
      const ref: FeatureReference = { name: f.name, kind: 'numeric', edges: [lowest, ...edges, above], shares: [], outer: true };
      const beyond = [...(rare(0, 1) ? [0] : []), ...(rare(present.length - 1, -1) ? [edges.length + 2] : [])];
      return { ...ref, shares: shares(ref, records, beyond) };
    }
    const ref: FeatureReference = { name: f.name, kind: 'categorical', categories: f.categories.slice(0, REFERENCE_CATEGORIES), shares: [] };
    return { ...ref, shares: shares(ref, records) };
  });
}

/**
 * How far below a bin edge a value may lie and still count as the edge's: 1e-5 of the edge's
 * size. Edges are training values (deciles, a value a decile of the records repeat, the lowest),
 * and the same value comes back rounded by whatever carried it: through 32-bit floats (Parquet
 * FLOAT, numpy float32, a feature store) or a CSV writer's 6 significant digits it lands a
 * millionth below its edge, in the bin below, which may be the empty "below training" one. An
 * outside probe: cardio's clean test records rounded through float32 read feature PSI 6.3 on a
 * feature 95% at its lowest value (0.03 as stored), and 7 features over 0.25. The same tolerance
 * holds above the highest training value. Scores tie within 1e-5 of their size likewise.
 */
const EDGE_TOLERANCE = 1e-5;

/** How far from edge `e` a value still counts as at it (see {@link EDGE_TOLERANCE}). */
function edgeTolerance(e: number): number {
  return EDGE_TOLERANCE * Math.abs(e);
}

/** Number of bins of a reference (the last one holds missing values). */
export function binCount(ref: FeatureReference): number {
  return ref.kind === 'numeric' ? ref.edges.length + 2 : ref.categories.length + 2;
}

/** The bin of one value of a feature, for one reference. */
export type Binner = (value: FieldValue | undefined) => number;

/**
 * The binning of a list of references, built once: every numeric feature's edges in one typed
 * array, categories in maps, one monomorphic method (a served batch of 1,000 records of 9
 * features bins about twice as fast as with one closure per feature). Missing values (null,
 * absent, NaN, or not a number for a numeric feature) go to the last bin; a category not in the
 * reference to the one before it; a number to the bin of the first edge above it (a value equal to
 * an edge, or below it by less than {@link EDGE_TOLERANCE} of its size, goes to the bin that edge
 * opens; above the training range only beyond that tolerance).
 */
export class Binning {
  /** Numeric features' edges, less their tolerance (see {@link EDGE_TOLERANCE}), feature j's from starts[j] to starts[j + 1]. */
  private readonly edges: Float64Array;
  private readonly starts: Int32Array;
  /** Per feature: its category indices (null for a numeric feature). */
  private readonly categories: (Map<string, number> | null)[];
  /** Per feature: its missing bin, the last. */
  private readonly missing: Int32Array;

  constructor(refs: readonly FeatureReference[]) {
    const edges: number[] = [];
    this.starts = new Int32Array(refs.length + 1);
    this.categories = refs.map((ref, j) => {
      this.starts[j] = edges.length;
      if (ref.kind === 'numeric') {
        // Each edge moved down by the tolerance; the one above the training range (just past its
        // highest value) up by it, so that the highest value rounded up stays within the range.
        const last = ref.edges.length - 1;
        edges.push(...ref.edges.map((e, k) => (ref.outer && k === last ? e + edgeTolerance(e) : e - edgeTolerance(e))));
        return null;
      }
      return categoryIndex(ref.categories);
    });
    this.starts[refs.length] = edges.length;
    this.edges = Float64Array.from(edges);
    this.missing = Int32Array.from(refs, (ref) => binCount(ref) - 1);
  }

  /** The bin of feature j's value. */
  bin(j: number, value: FieldValue | undefined): number {
    return this.categories[j] ? this.categoryBin(j, value) : this.numberBin(j, value);
  }

  /** The bins of all features' values (`values[j]` feature j's) into `out` from `offset`. */
  binAll(values: readonly (FieldValue | undefined)[], out: Uint16Array, offset: number): void {
    for (let j = 0; j < values.length; j++) out[offset + j] = this.bin(j, values[j]);
  }

  private numberBin(j: number, value: FieldValue | undefined): number {
    if (typeof value !== 'number' || Number.isNaN(value)) return this.missing[j];
    const first = this.starts[j];
    const end = this.starts[j + 1];
    // A linear scan: a reference has a few edges (nine deciles at most, and two per repeated value), and the scan's one mispredicted
    // branch costs less than a binary search's several.
    let k = first;
    while (k < end && this.edges[k] <= value) k++;
    return k - first;
  }

  private categoryBin(j: number, value: FieldValue | undefined): number {
    if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) return this.missing[j];
    // Unknown categories share the bin before the missing one.
    const index = this.categories[j] as Map<string, number>;
    return categoryCode(index, typeof value === 'number' ? value : String(value)) ?? this.missing[j] - 1;
  }
}

/** The binning of one reference (see {@link Binning}). */
export function binner(ref: FeatureReference): Binner {
  const binning = new Binning([ref]);
  return (value) => binning.bin(0, value);
}

/** Each bin's share of `records`; bins in `unseen` count one record more (a share for what no record showed). */
function shares(ref: FeatureReference, records: readonly DataRecord[], unseen: readonly number[] = []): number[] {
  const counts = new Array<number>(binCount(ref)).fill(0);
  const bin = binner(ref);
  for (const r of records) counts[bin(r[ref.name])]++;
  for (const b of unseen) counts[b]++;
  return counts.map((c) => c / Math.max(1, records.length + unseen.length));
}

/** Fewest distinct values of a numeric feature whose extremes, held by two records, still leave room beyond them (see featureReference). */
const GRID_VALUES = 2 * NUMERIC_BINS;

/** How many distinct values sorted `values` hold. */
function distinctCount(values: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[i - 1]) n++;
  return n;
}

/** The smallest number above finite `x`. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const bits = new BigInt64Array(Float64Array.of(x).buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return new Float64Array(bits.buffer)[0] as number;
}
