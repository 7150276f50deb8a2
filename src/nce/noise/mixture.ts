import { float64 } from '../arrays';
import { logAddExp } from '../linalg';
import { pick, type Rng } from '../random';
import type { ContinuousNoise, FittedNoise } from './types';

/** A weighted mixture of noise distributions: near noise for fine structure, broad noise for far regions. */
export class MixtureNoise implements ContinuousNoise {
  readonly fullSupport: boolean;
  private readonly logWeights: Float64Array;

  constructor(
    readonly weights: Float64Array,
    readonly components: ContinuousNoise[],
  ) {
    this.fullSupport = components.some((c) => c.fullSupport);
    this.logWeights = weights.map((w) => Math.log(w));
  }

  get dim(): number {
    return this.components[0].dim;
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const counts = new Int32Array(this.components.length);
    const which = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      which[i] = pick(this.weights, rng);
      counts[which[i]]++;
    }
    const drawn = this.components.map((c, k) => c.sample(counts[k], rng));
    const used = new Int32Array(this.components.length);
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const k = which[i];
      out.set(drawn[k].subarray(used[k] * d, (used[k] + 1) * d), i * d);
      used[k]++;
    }
    return out;
  }

  logDensity(x: Float64Array, n: number): Float64Array {
    return this.logDensityAndHarmonic(x, n).density;
  }

  /**
   * log q(x) = log sum_k w_k q_k(x), and the log of the components' weighted harmonic mean,
   * -log sum_k w_k / q_k(x), for n rows, from one evaluation of each component. The harmonic mean
   * is a soft minimum: small wherever any one component finds x unlikely.
   * @param experts - take each component of the harmonic mean as fitted to the data (its
   *   {@link ContinuousNoise.expert}), not as widened for the noise
   */
  logDensityAndHarmonic(x: Float64Array, n: number, experts = false): { density: Float64Array; harmonic: Float64Array } {
    const parts = this.components.map((c) => c.logDensity(x, n));
    const expertParts = experts ? this.components.map((c, k) => expertLogDensity(c, parts[k], x, n)) : parts;
    const density = float64(n);
    const harmonic = float64(n);
    // Component by component, each row's sums accumulated in log space from the first component's
    // terms: with two components (the default mixture) one exp and one log1p per sum.
    const w0 = this.logWeights[0];
    const part0 = parts[0] as Float64Array;
    const expert0 = expertParts[0] as Float64Array;
    for (let i = 0; i < n; i++) {
      density[i] = w0 + part0[i];
      harmonic[i] = w0 - expert0[i];
    }
    for (let k = 1; k < parts.length; k++) {
      const w = this.logWeights[k];
      const part = parts[k] as Float64Array;
      const expert = expertParts[k] as Float64Array;
      for (let i = 0; i < n; i++) {
        density[i] = logAddExp(density[i], w + part[i]);
        harmonic[i] = logAddExp(harmonic[i], w - expert[i]);
      }
    }
    for (let i = 0; i < n; i++) harmonic[i] = -harmonic[i];
    return { density, harmonic };
  }

  toJSON(): FittedNoise {
    return { type: 'mixture', weights: [...this.weights], components: this.components.map((c) => c.toJSON()) };
  }
}

/** log of `noise`'s expert at n rows of x; `own` (its log q there) when the expert is the noise itself. */
export function expertLogDensity(noise: ContinuousNoise, own: Float64Array, x: Float64Array, n: number): Float64Array {
  const e = noise.expert?.() ?? noise;
  if (e === noise) return own;
  return noise.expertFromOwn ? noise.expertFromOwn(own) : e.logDensity(x, n);
}
