import { float64 } from '../arrays';
import { LOG_2PI, type Matrix } from '../linalg';
import { type Rng, permutation } from '../random';
import { quantileSorted } from '../schema';
import type { ContinuousNoise, FittedNoise } from './types';

/** Values kept per feature: enough for the marginal's shape, small enough for the manifest. */
const MAX_VALUES = 1024;
/** Bandwidths beyond the nearest value that the density sums over. */
const WINDOW = 8;
/** Grid step of the scoring tables, in bandwidths. */
const TABLE_STEP = 1 / 32;
/** Most grid points per feature; beyond them the exact sum takes over. */
const TABLE_MAX = 1 << 15;

/** Widening steps tried beyond Silverman's bandwidth: h * 2^(k / 2) for k = 0..WIDEN_STEPS. */
const WIDEN_STEPS = 10;

/**
 * Silverman's bandwidth h, widened to whichever of h * 2^(k/2), k = 0..WIDEN_STEPS, gives the
 * feature's own values the highest leave-one-out log-likelihood (likelihood cross-validation; on a
 * tie the narrower wins). Silverman's rule fits its spread to the bulk (the smaller of the standard deviation
 * and the IQR): on a feature that is mostly one value with a long tail (a count that is usually 0,
 * a robust-scaled spike) it is far too narrow for the tail, whose values are then isolated bumps:
 * a record between them gets hundreds of nats less log q than its neighbours, and that one feature
 * outweighs every other in log q. Held-out values in the tail show the overfit, so the bandwidth
 * widens there; on features whose bulk the rule fits, the first step already loses and h is kept.
 * Never narrower than the rule: on discrete features the leave-one-out likelihood only grows as h
 * shrinks.
 * @param sorted - the kept values, ascending
 */
export function widenedBandwidth(sorted: Float64Array, h: number): number {
  if (sorted.length < 3) return h;
  const { values, counts } = distinctCounts(sorted);
  if (values.length < 2) return h;
  let best = h;
  let bestLl = looLogLikelihood(values, counts, sorted.length, h);
  for (let k = 1; k <= WIDEN_STEPS; k++) {
    const hk = h * Math.pow(2, k / 2);
    const ll = looLogLikelihood(values, counts, sorted.length, hk);
    if (ll > bestLl) {
      best = hk;
      bestLl = ll;
    }
  }
  return best;
}

/**
 * Leave-one-out log-likelihood of m values (distinct `values`, ascending, with their `counts`)
 * under a Gaussian kernel density of bandwidth h, up to a constant: each value is scored by the
 * kernels of all the others (the other copies of a repeated value included). Sums stop WINDOW
 * bandwidths beyond the nearest other value, as in logMarginal.
 */
function looLogLikelihood(values: readonly number[], counts: readonly number[], m: number, h: number): number {
  const n = values.length;
  let ll = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const self = counts[i] - 1;
    const nearest = self > 0 ? 0 : Math.min(i + 1 < n ? values[i + 1] - v : Infinity, i > 0 ? v - values[i - 1] : Infinity);
    const reach = nearest + WINDOW * h;
    const shift = -0.5 * (nearest / h) ** 2;
    let s = self;
    for (let k = i + 1; k < n && values[k] - v <= reach; k++) s += counts[k] * Math.exp(-0.5 * ((values[k] - v) / h) ** 2 - shift);
    for (let k = i - 1; k >= 0 && v - values[k] <= reach; k--) s += counts[k] * Math.exp(-0.5 * ((v - values[k]) / h) ** 2 - shift);
    ll += counts[i] * (shift + Math.log(s / (m - 1)) - Math.log(h));
  }
  return ll;
}

/**
 * One feature's log density and its slope on a uniform grid over the values (plus WINDOW
 * bandwidths on each side), for cubic Hermite interpolation: two lookups instead of a sum over
 * every value in reach. Each cell is checked at its midpoint when the table is built; a cell where
 * interpolation strays more than TABLE_TOLERANCE from the exact sum (between sparse values far
 * apart, the log density bends too sharply) is marked for the exact sum.
 */
interface LogTable {
  start: number;
  step: number;
  f: Float64Array;
  df: Float64Array;
  /** 1 where the cell from grid point k to k+1 is left to the exact sum. */
  exact: Uint8Array;
}

/** Largest interpolation error a table cell may have at its midpoint, in nats. */
const TABLE_TOLERANCE = 1e-6;

/**
 * Product of the empirical marginals: each feature resampled independently from its training
 * values, smoothed by a Gaussian kernel so that log q is a tractable kernel density.
 */
export class MarginalsNoise implements ContinuousNoise {
  readonly fullSupport = true;
  /** Distinct kept values per feature and how often each was kept: the density sums these. */
  private readonly distinct: { values: Float64Array; counts: Float64Array }[];
  /** Scoring tables per feature, built on first use (null: the feature spans too far for one). */
  private tables: (LogTable | null)[] | null = null;

  constructor(
    readonly values: Float64Array[],
    readonly bandwidths: Float64Array,
  ) {
    // Tabular features repeat values a lot; summing each distinct value once, weighted by its
    // count, gives the same density for a fraction of the kernel evaluations.
    this.distinct = values.map((sorted) => {
      const { values: u, counts: c } = distinctCounts(sorted);
      return { values: Float64Array.from(u), counts: Float64Array.from(c) };
    });
  }

  get dim(): number {
    return this.values.length;
  }

  /**
   * Keeps a random subset of each feature's values and sets Silverman's bandwidth, widened where
   * the kept values' leave-one-out likelihood says it overfits (see {@link widenedBandwidth}).
   * @param bandwidth - multiplier of that bandwidth (default 1)
   */
  static fit(x: Matrix, rng: Rng, bandwidth = 1): MarginalsNoise {
    const d = x.cols;
    const take = permutation(x.rows, rng).subarray(0, Math.min(MAX_VALUES, x.rows));
    const values: Float64Array[] = [];
    const bandwidths = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const all = new Float64Array(x.rows);
      for (let i = 0; i < x.rows; i++) all[i] = x.data[i * d + j];
      all.sort();
      let mean = 0;
      for (const v of all) mean += v;
      mean /= all.length;
      let v2 = 0;
      for (const v of all) v2 += (v - mean) ** 2;
      const sd = Math.sqrt(v2 / all.length);
      const iqr = (quantileSorted(all, 0.75) - quantileSorted(all, 0.25)) / 1.349;
      const spread = iqr > 0 ? Math.min(sd, iqr) : sd;
      const h = Math.max(0.9 * (spread > 0 ? spread : 0.05) * Math.pow(x.rows, -0.2), 1e-3);
      const kept = new Float64Array(take.length);
      for (let i = 0; i < take.length; i++) kept[i] = x.data[take[i] * d + j];
      kept.sort();
      bandwidths[j] = widenedBandwidth(kept, h) * bandwidth;
      values.push(kept);
    }
    return new MarginalsNoise(values, bandwidths);
  }

  static fromJSON(p: Extract<FittedNoise, { type: 'marginals' }>): MarginalsNoise {
    return new MarginalsNoise(
      p.values.map((v) => Float64Array.from(v)),
      Float64Array.from(p.bandwidths),
    );
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const v = this.values[j];
        out[i * d + j] = v[rng.int(v.length)] + this.bandwidths[j] * rng.normal();
      }
    }
    return out;
  }

  logDensity(x: Float64Array, n: number): Float64Array {
    const d = this.dim;
    this.tables ??= this.distinct.map((_, j) => this.buildTable(j));
    const tables = this.tables;
    const out = float64(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const v = x[i * d + j];
        const t = tables[j];
        const pos = t ? (v - t.start) / t.step : -1;
        const k = pos | 0;
        if (t && pos >= 0 && pos < t.f.length - 1 && t.exact[k] === 0) {
          s += hermite(t, k, pos - k);
        } else {
          s += this.logMarginal(j, v)[0];
        }
      }
      out[i] = s;
    }
    return out;
  }

  private buildTable(j: number): LogTable | null {
    const vals = this.distinct[j].values;
    const h = this.bandwidths[j];
    const step = h * TABLE_STEP;
    let start = vals[0] - WINDOW * h;
    let size = Math.ceil((vals[vals.length - 1] + WINDOW * h - start) / step) + 1;
    if (!(size <= TABLE_MAX)) {
      // The values span more than a table can: it covers the span holding most of them; values
      // beyond it are summed exactly.
      start = densestStart(this.values[j], (TABLE_MAX - 1) * step, WINDOW * h);
      size = TABLE_MAX;
    }
    const f = new Float64Array(size);
    const df = new Float64Array(size);
    for (let k = 0; k < size; k++) [f[k], df[k]] = this.logMarginal(j, start + k * step);
    const table = { start, step, f, df, exact: new Uint8Array(size) };
    for (let k = 0; k + 1 < size; k++) {
      if (Math.abs(hermite(table, k, 0.5) - this.logMarginal(j, start + (k + 0.5) * step)[0]) > TABLE_TOLERANCE) table.exact[k] = 1;
    }
    return table;
  }

  /**
   * log of one feature's kernel density at v, and its derivative in v. Values are sorted, so only
   * those within (nearest distance + WINDOW bandwidths) of v are summed: every value farther out
   * weighs less than exp(-WINDOW^2 / 2) of the nearest one, far below float precision.
   */
  private logMarginal(j: number, v: number): [number, number] {
    const { values: vals, counts } = this.distinct[j];
    const h = this.bandwidths[j];
    const total = this.values[j].length;
    const n = vals.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (vals[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    const nearest = Math.min(lo < n ? vals[lo] - v : Infinity, lo > 0 ? v - vals[lo - 1] : Infinity);
    const reach = nearest + WINDOW * h;
    const m = -0.5 * (nearest / h) ** 2;
    let s = 0;
    // Sum of weight * (value - v): the slope of the log density is that over s, over h^2.
    let pull = 0;
    for (let k = lo; k < n && vals[k] - v <= reach; k++) {
      const w = counts[k] * Math.exp(-0.5 * ((vals[k] - v) / h) ** 2 - m);
      s += w;
      pull += w * (vals[k] - v);
    }
    for (let k = lo - 1; k >= 0 && v - vals[k] <= reach; k--) {
      const w = counts[k] * Math.exp(-0.5 * ((v - vals[k]) / h) ** 2 - m);
      s += w;
      pull += w * (vals[k] - v);
    }
    return [m + Math.log(s / total) - Math.log(h) - 0.5 * LOG_2PI, pull / s / (h * h)];
  }

  toJSON(): FittedNoise {
    return { type: 'marginals', values: this.values.map((v) => [...v]), bandwidths: [...this.bandwidths] };
  }
}

/**
 * Start of the window of width `span` that holds the most of the sorted `values`, `margin` below
 * the first value it holds.
 */
function densestStart(values: Float64Array, span: number, margin: number): number {
  let best = 0;
  let bestCount = 0;
  let end = 0;
  for (let i = 0; i < values.length; i++) {
    const limit = values[i] - margin + span;
    while (end < values.length && values[end] <= limit) end++;
    if (end - i > bestCount) {
      bestCount = end - i;
      best = i;
    }
  }
  return values[best] - margin;
}

/** Cubic Hermite interpolation of a table at fraction u of the way from grid point k to k+1. */
function hermite(t: LogTable, k: number, u: number): number {
  const u2 = u * u;
  const w = 1 - u;
  return (1 + 2 * u) * w * w * t.f[k] + u * w * w * t.step * t.df[k] + u2 * (3 - 2 * u) * t.f[k + 1] - u2 * w * t.step * t.df[k + 1];
}

/** The distinct values of an ascending array, with how often each occurs. */
function distinctCounts(sorted: ArrayLike<number>): { values: number[]; counts: number[] } {
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i];
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1]++;
    else {
      values.push(v);
      counts.push(1);
    }
  }
  return { values, counts };
}
