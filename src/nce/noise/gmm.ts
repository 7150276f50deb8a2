import { cholesky, type Matrix, logSumExp, meanCov, takeRows } from '../linalg';
import { pick, type Rng, permutation } from '../random';
import { NceError } from '../errors';
import { GaussianNoise } from './gaussian';
import type { ContinuousNoise, FittedNoise } from './types';

/** Rows EM sees at most; the mixture's shape is settled long before this. */
const MAX_FIT_ROWS = 2000;
const MAX_ITERATIONS = 40;
/** Added to each component's covariance diagonal (robust-scaled units), so no component collapses. */
const COVARIANCE_FLOOR = 1e-2;

/** A Gaussian mixture with full covariances, fitted by EM, its component count chosen by BIC. */
export class GmmNoise implements ContinuousNoise {
  readonly fullSupport = true;
  private readonly logWeights: Float64Array;
  private unscaled: GmmNoise | null = null;

  constructor(
    readonly weights: Float64Array,
    readonly components: GaussianNoise[],
    readonly scale = 1,
  ) {
    this.logWeights = weights.map((w) => Math.log(w));
  }

  get dim(): number {
    return this.components[0].dim;
  }

  /**
   * Whether a mixture of `components` can be fitted to `rows` rows: EM needs a row a component at
   * least, among the {@link MAX_FIT_ROWS} it sees at most.
   */
  static canFit(components: number, rows: number): boolean {
    return components <= Math.min(MAX_FIT_ROWS, rows);
  }

  /**
   * Fits the mixture.
   * @param options.components - a fixed component count; otherwise 1..maxComponents by BIC
   * @param options.maxComponents - largest count tried (default 6)
   * @param options.scale - standard-deviation multiplier applied to every component (default 1)
   */
  static fit(x: Matrix, rng: Rng, options: { components?: number; maxComponents?: number; scale?: number } = {}): GmmNoise {
    const idx = permutation(x.rows, rng).subarray(0, Math.min(MAX_FIT_ROWS, x.rows));
    const data = takeRows(x, idx);
    if (options.components !== undefined && !GmmNoise.canFit(options.components, x.rows)) {
      throw new NceError('INSUFFICIENT_DATA', `a gmm noise of ${options.components} components needs at least as many records to fit, and has ${data.rows} (the held-out share is not fitted): lower noise.components, or train on more records`, { field: 'noise.components' });
    }
    const counts = options.components !== undefined ? [options.components] : range(1, options.maxComponents ?? 6);
    let best: { bic: number; fit: EmResult } | null = null;
    for (const k of counts) {
      if (k > data.rows) break;
      const fit = em(data, k, rng);
      const d = data.cols;
      const params = k * (d + (d * (d + 1)) / 2) + (k - 1);
      const bic = -2 * fit.logLik + params * Math.log(data.rows);
      if (!best || bic < best.bic) best = { bic, fit };
    }
    if (!best) throw new RangeError('GmmNoise.fit: needs at least one row');
    const scale = options.scale ?? 1;
    const comps = best.fit.covs.map((c, i) => {
      const cov = c.map((v) => v * scale * scale);
      return new GaussianNoise(data.cols, best.fit.means[i], cholesky(cov, data.cols, 1e-6), scale);
    });
    return new GmmNoise(best.fit.weights, comps, scale);
  }

  static fromJSON(p: Extract<FittedNoise, { type: 'gmm' }>): GmmNoise {
    const d = p.means[0].length;
    return new GmmNoise(
      Float64Array.from(p.weights),
      p.means.map((m, i) => new GaussianNoise(d, Float64Array.from(m), Float64Array.from(p.chols[i]), p.scale)),
      p.scale,
    );
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) this.components[pick(this.weights, rng)].sampleInto(out, i * d, z, rng);
    return out;
  }

  logDensity(x: Float64Array, n: number): Float64Array {
    const d = this.dim;
    const k = this.components.length;
    const out = new Float64Array(n);
    const z = new Float64Array(d);
    const terms = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) terms[c] = this.logWeights[c] + this.components[c].logDensityAt(x, i * d, z);
      out[i] = logSumExp(terms);
    }
    return out;
  }

  /** The fitted mixture: every component with its covariance shrunk back by `scale`^2. */
  expert(): GmmNoise {
    if (this.scale === 1) return this;
    this.unscaled ??= new GmmNoise(
      this.weights,
      this.components.map((c) => c.expert()),
      1,
    );
    return this.unscaled;
  }

  toJSON(): FittedNoise {
    return {
      type: 'gmm',
      scale: this.scale,
      weights: [...this.weights],
      means: this.components.map((c) => [...c.mean]),
      chols: this.components.map((c) => [...c.chol]),
    };
  }
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

interface EmResult {
  weights: Float64Array;
  means: Float64Array[];
  covs: Float64Array[];
  logLik: number;
}

function em(x: Matrix, k: number, rng: Rng): EmResult {
  const { rows: n, cols: d } = x;
  const means = kmeansPlusPlus(x, k, rng);
  let weights = new Float64Array(k).fill(1 / k);
  let covs: Float64Array[] = [];
  const resp = new Float64Array(n * k);
  // Start from hard assignments to the nearest seed.
  for (let i = 0; i < n; i++) {
    let bestC = 0;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x.data[i * d + j] - means[c][j]) ** 2;
      if (s < bestD) {
        bestD = s;
        bestC = c;
      }
    }
    resp[i * k + bestC] = 1;
  }
  let logLik = -Infinity;
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    // M step
    weights = new Float64Array(k);
    covs = [];
    for (let c = 0; c < k; c++) {
      const w = new Float64Array(n);
      let sw = 0;
      for (let i = 0; i < n; i++) {
        w[i] = resp[i * k + c];
        sw += w[i];
      }
      weights[c] = Math.max(sw / n, 1e-12);
      // A component that lost every row restarts as a unit Gaussian at the origin.
      const mc = sw > 1e-12 ? meanCov(x, w) : { mean: new Float64Array(d), cov: new Float64Array(d * d).map((_, i) => (i % (d + 1) === 0 ? 1 : 0)) };
      means[c] = mc.mean;
      for (let j = 0; j < d; j++) mc.cov[j * d + j] += COVARIANCE_FLOOR;
      covs.push(mc.cov);
    }
    let ws = 0;
    for (const w of weights) ws += w;
    for (let c = 0; c < k; c++) weights[c] /= ws;
    // E step
    const gs = covs.map((cov, c) => new GaussianNoise(d, means[c], cholesky(cov, d, 1e-6)));
    const z = new Float64Array(d);
    const terms = new Float64Array(k);
    let ll = 0;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) terms[c] = Math.log(weights[c]) + gs[c].logDensityAt(x.data, i * d, z);
      const lse = logSumExp(terms);
      ll += lse;
      for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp(terms[c] - lse);
    }
    const converged = Math.abs(ll - logLik) < 1e-4 * n;
    logLik = ll;
    if (converged) break;
  }
  return { weights, means, covs, logLik };
}

function kmeansPlusPlus(x: Matrix, k: number, rng: Rng): Float64Array[] {
  const { rows: n, cols: d, data } = x;
  const first = rng.int(n);
  const centers: Float64Array[] = [Float64Array.from(data.subarray(first * d, (first + 1) * d))];
  const dist = new Float64Array(n).fill(Infinity);
  while (centers.length < k) {
    const c = centers[centers.length - 1];
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (data[i * d + j] - c[j]) ** 2;
      if (s < dist[i]) dist[i] = s;
      total += dist[i];
    }
    let u = rng.uniform() * total;
    let chosen = n - 1;
    for (let i = 0; i < n; i++) {
      u -= dist[i];
      if (u <= 0) {
        chosen = i;
        break;
      }
    }
    centers.push(Float64Array.from(data.subarray(chosen * d, (chosen + 1) * d)));
  }
  return centers;
}
