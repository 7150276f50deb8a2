import type { DiscreteField, Encoded } from '../encoding';
import { pick, type Rng } from '../random';
import { float64 } from '../arrays';

/** Share of each discrete field's noise that is uniform over all codes (unseen and missing included). */
const UNIFORM_SHARE = 0.5;

/**
 * Noise for the discrete fields (categories and missing flags): independent per field, half the
 * training frequencies and half uniform, so rare, unseen and missing codes all get noise mass.
 */
export class DiscreteNoise {
  private readonly logProbs: Float64Array[];

  constructor(readonly probs: Float64Array[]) {
    this.logProbs = probs.map((p) => p.map((v) => Math.log(v)));
  }

  /** Fits the per-field frequencies on the training codes. */
  static fit(fields: readonly DiscreteField[], e: Encoded): DiscreteNoise {
    const dd = fields.length;
    const probs = fields.map((f, j) => {
      const counts = new Float64Array(f.size);
      for (let i = 0; i < e.n; i++) counts[e.codes[i * dd + j]]++;
      return counts.map((c) => (1 - UNIFORM_SHARE) * (c / Math.max(1, e.n)) + UNIFORM_SHARE / f.size);
    });
    return new DiscreteNoise(probs);
  }

  static fromJSON(p: number[][]): DiscreteNoise {
    return new DiscreteNoise(p.map((v) => Float64Array.from(v)));
  }

  /** n x fields codes. */
  sample(n: number, rng: Rng): Int32Array {
    const dd = this.probs.length;
    const out = new Int32Array(n * dd);
    for (let i = 0; i < n; i++) for (let j = 0; j < dd; j++) out[i * dd + j] = pick(this.probs[j], rng);
    return out;
  }

  /** Sum over fields of log q(code) for each of n rows. */
  logProb(codes: Int32Array, n: number): Float64Array {
    const dd = this.probs.length;
    const out = float64(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dd; j++) s += this.logProbs[j][codes[i * dd + j]];
      out[i] = s;
    }
    return out;
  }

  toJSON(): number[][] {
    return this.probs.map((p) => [...p]);
  }
}
