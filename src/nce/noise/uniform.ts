import type { Matrix } from '../linalg';
import type { Rng } from '../random';
import type { ContinuousNoise, FittedNoise } from './types';

/** Uniform on the data's bounding box, each side pushed out by `margin` times the feature's range. */
export class UniformNoise implements ContinuousNoise {
  readonly fullSupport = false;
  private readonly logVolume: number;

  constructor(
    readonly low: Float64Array,
    readonly high: Float64Array,
    readonly margin: number,
  ) {
    let v = 0;
    for (let j = 0; j < low.length; j++) v += Math.log(high[j] - low[j]);
    this.logVolume = v;
  }

  get dim(): number {
    return this.low.length;
  }

  /**
   * Fits the box to the rows of `x`.
   * @param margin - fraction of each feature's range added on both sides (default 0.1)
   */
  static fit(x: Matrix, margin = 0.1): UniformNoise {
    const d = x.cols;
    const low = new Float64Array(d).fill(Infinity);
    const high = new Float64Array(d).fill(-Infinity);
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < d; j++) {
        const v = x.data[i * d + j];
        if (v < low[j]) low[j] = v;
        if (v > high[j]) high[j] = v;
      }
    }
    for (let j = 0; j < d; j++) {
      // A constant feature still gets a box of width 1 (in robust-scaled units) to sample from.
      const range = high[j] - low[j] > 0 ? high[j] - low[j] : 1 / (1 + 2 * margin);
      low[j] -= margin * range;
      high[j] += margin * range;
    }
    return new UniformNoise(low, high, margin);
  }

  static fromJSON(p: Extract<FittedNoise, { type: 'uniform' }>): UniformNoise {
    return new UniformNoise(Float64Array.from(p.low), Float64Array.from(p.high), p.margin);
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) out[i * d + j] = this.low[j] + rng.uniform() * (this.high[j] - this.low[j]);
    }
    return out;
  }

  logDensity(x: Float64Array, n: number): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let inside = true;
      for (let j = 0; j < d && inside; j++) {
        const v = x[i * d + j];
        inside = v >= this.low[j] && v <= this.high[j];
      }
      out[i] = inside ? -this.logVolume : -Infinity;
    }
    return out;
  }

  toJSON(): FittedNoise {
    return { type: 'uniform', margin: this.margin, low: [...this.low], high: [...this.high] };
  }
}
