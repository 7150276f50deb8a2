import { LOG_2PI, type Matrix } from '../linalg';
import { type Rng, permutation } from '../random';
import { quantileSorted } from '../schema';
import type { ContinuousNoise, FittedNoise } from './types';

/** Values kept per feature: enough for the marginal's shape, small enough for the manifest. */
const MAX_VALUES = 256;

/**
 * Product of the empirical marginals: each feature resampled independently from its training
 * values, smoothed by a Gaussian kernel so that log q is a tractable kernel density.
 */
export class MarginalsNoise implements ContinuousNoise {
  readonly fullSupport = true;

  constructor(
    readonly values: Float64Array[],
    readonly bandwidths: Float64Array,
  ) {}

  get dim(): number {
    return this.values.length;
  }

  /**
   * Keeps a random subset of each feature's values and sets Silverman's bandwidth.
   * @param bandwidth - multiplier of Silverman's rule (default 1)
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
      const h = 0.9 * (spread > 0 ? spread : 0.05) * Math.pow(x.rows, -0.2) * bandwidth;
      bandwidths[j] = Math.max(h, 1e-3);
      const kept = new Float64Array(take.length);
      for (let i = 0; i < take.length; i++) kept[i] = x.data[take[i] * d + j];
      values.push(kept.sort());
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
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += this.logMarginal(j, x[i * d + j]);
      out[i] = s;
    }
    return out;
  }

  private logMarginal(j: number, v: number): number {
    const vals = this.values[j];
    const h = this.bandwidths[j];
    let m = -Infinity;
    for (let k = 0; k < vals.length; k++) {
      const e = -0.5 * ((v - vals[k]) / h) ** 2;
      if (e > m) m = e;
    }
    let s = 0;
    for (let k = 0; k < vals.length; k++) s += Math.exp(-0.5 * ((v - vals[k]) / h) ** 2 - m);
    return m + Math.log(s / vals.length) - Math.log(h) - 0.5 * LOG_2PI;
  }

  toJSON(): FittedNoise {
    return { type: 'marginals', values: this.values.map((v) => [...v]), bandwidths: [...this.bandwidths] };
  }
}
