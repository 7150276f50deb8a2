import { float64 } from '../arrays';
import { cholesky, LOG_2PI, logDetFromCholesky, meanCov, type Matrix, takeRows } from '../linalg';
import { permutation, type Rng } from '../random';
import type { ContinuousNoise, FittedNoise } from './types';

/** Concentration steps of a trimmed fit; a few suffice in practice. */
const TRIM_STEPS = 3;

/** A multivariate normal N(mean, L L^T), sampled and evaluated through its Cholesky factor L. */
export class GaussianNoise implements ContinuousNoise {
  readonly fullSupport = true;
  private readonly logNorm: number;
  /** 1 / L[i][i]: forward substitution multiplies by them (a division per element costs more). */
  private readonly invDiag: Float64Array;
  private unscaled: GaussianNoise | null = null;

  constructor(
    readonly dim: number,
    readonly mean: Float64Array,
    readonly chol: Float64Array,
    readonly scale = 1,
  ) {
    this.logNorm = -0.5 * (dim * LOG_2PI + logDetFromCholesky(chol, dim));
    this.invDiag = Float64Array.from({ length: dim }, (_, i) => 1 / chol[i * dim + i]);
  }

  /**
   * Fits mean and full covariance to the rows of `x`, then inflates the covariance by `scale`^2.
   * @param scale - standard-deviation multiplier (default 1: the fitted Gaussian itself)
   * @param trim - share of the most outlying rows left out of the fit (concentration steps, as in
   *   the minimum covariance determinant), so anomalies in the reference data do not widen it
   *   (default 0)
   * @param shrink - a ridge proportional to each feature's own variance: cov_jj *= 1 + shrink. It
   *   keeps the covariance well conditioned when features outnumber records or are collinear
   *   (embeddings, one-hot style columns) without the absolute ridge that would swamp features of
   *   small scale. Unset: a fixed 1e-4 ridge, as before the option existed.
   */
  static fit(x: Matrix, scale = 1, trim = 0, shrink?: number): GaussianNoise {
    const d = x.cols;
    const regularised = (cov: Float64Array): Float64Array => {
      if (shrink === undefined) return cov;
      let trace = 0;
      for (let j = 0; j < d; j++) trace += cov[j * d + j] / d;
      // A constant feature gets a ridge on the scale of the others, so q keeps a density there.
      for (let j = 0; j < d; j++) cov[j * d + j] += shrink * Math.max(cov[j * d + j], 1e-6 * (trace || 1));
      return cov;
    };
    const jitter = shrink === undefined ? 1e-4 : 1e-9;
    let { mean, cov } = meanCov(x);
    const keep = Math.max(d + 1, Math.round(x.rows * (1 - trim)));
    for (let step = 0; trim > 0 && keep < x.rows && step < TRIM_STEPS; step++) {
      const g = new GaussianNoise(d, mean, cholesky(regularised(cov), d, jitter));
      const ld = g.logDensity(x.data, x.rows);
      const order = Array.from({ length: x.rows }, (_, i) => i).sort((a, b) => ld[b] - ld[a]);
      ({ mean, cov } = meanCov(takeRows(x, order.slice(0, keep))));
    }
    cov = regularised(cov);
    for (let i = 0; i < cov.length; i++) cov[i] *= scale * scale;
    return new GaussianNoise(d, mean, cholesky(cov, d, jitter), scale);
  }

  static fromJSON(p: Extract<FittedNoise, { type: 'gaussian' }>): GaussianNoise {
    return new GaussianNoise(p.mean.length, Float64Array.from(p.mean), Float64Array.from(p.chol), p.scale);
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) this.sampleInto(out, i * d, z, rng);
    return out;
  }

  /**
   * n fresh draws of q from n earlier ones, in O(n d) instead of the O(n d^2) of {@link sample}:
   * the centred rows are paired at random and each pair turned by its own random angle. An
   * orthogonal map of independent N(0, S) rows gives independent N(0, S) rows again, so every
   * call returns an exact sample of q; successive calls are dependent, which the trainer accepts
   * for wide inputs, where drawing anew each epoch would cost more than training.
   */
  refresh(previous: Float64Array, rng: Rng): Float64Array {
    const d = this.dim;
    const n = previous.length / d;
    const out = Float64Array.from(previous);
    const order = permutation(n, rng);
    for (let p = 0; p + 1 < n; p += 2) {
      const a = order[p] * d;
      const b = order[p + 1] * d;
      const angle = 2 * Math.PI * rng.uniform();
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      for (let j = 0; j < d; j++) {
        const m = this.mean[j];
        const u = out[a + j] - m;
        const v = out[b + j] - m;
        out[a + j] = m + c * u - s * v;
        out[b + j] = m + s * u + c * v;
      }
    }
    return out;
  }

  /** Writes one sample at `out[offset..offset+dim)`, using `z` as scratch. */
  sampleInto(out: Float64Array, offset: number, z: Float64Array, rng: Rng): void {
    const d = this.dim;
    const l = this.chol;
    for (let j = 0; j < d; j++) z[j] = rng.normal();
    for (let j = 0; j < d; j++) {
      let s = this.mean[j];
      for (let k = 0; k <= j; k++) s += l[j * d + k] * z[k];
      out[offset + j] = s;
    }
  }

  /**
   * log q of n rows. Two rows at a time: forward substitution is a chain of dependent
   * multiply-adds, and two independent chains run side by side in about the time of one (~1.5x
   * faster for 9 features). Each row's arithmetic is {@link logDensityAt}'s, in the same order, so
   * the results are identical to it.
   */
  logDensity(x: Float64Array, n: number): Float64Array {
    const d = this.dim;
    const l = this.chol;
    const mean = this.mean;
    const invDiag = this.invDiag;
    const out = float64(n);
    const z = float64(d);
    const w = float64(d);
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const a = i * d;
      const b = a + d;
      let qa = 0;
      let qb = 0;
      for (let j = 0; j < d; j++) {
        const m = mean[j];
        let sa = x[a + j] - m;
        let sb = x[b + j] - m;
        const row = j * d;
        for (let k = 0; k < j; k++) {
          const ljk = l[row + k];
          sa -= ljk * z[k];
          sb -= ljk * w[k];
        }
        const za = sa * invDiag[j];
        const zb = sb * invDiag[j];
        z[j] = za;
        w[j] = zb;
        qa += za * za;
        qb += zb * zb;
      }
      out[i] = this.logNorm - 0.5 * qa;
      out[i + 1] = this.logNorm - 0.5 * qb;
    }
    if (i < n) out[i] = this.logDensityAt(x, i * d, z);
    return out;
  }

  /**
   * log q of the row at `x[offset..]`, with a scratch buffer `z` of length dim: the squared norm
   * of z = L^-1 (x - mean), solved by forward substitution.
   */
  logDensityAt(x: Float64Array, offset: number, z: Float64Array): number {
    const d = this.dim;
    const l = this.chol;
    let q = 0;
    for (let i = 0; i < d; i++) {
      let s = x[offset + i] - this.mean[i];
      for (let k = 0; k < i; k++) s -= l[i * d + k] * z[k];
      const zi = s * this.invDiag[i];
      z[i] = zi;
      q += zi * zi;
    }
    return this.logNorm - 0.5 * q;
  }

  /**
   * How much log q of rows this Gaussian was fitted to changes when each is scored under the
   * Gaussian fitted to the other rows (leave-one-out): added to a row's log q under this one, it
   * gives what a new record gets, where a fitted row sits closer to a Gaussian fitted to
   * it, the more so the more features there are per row. Leaving row i out moves the mean by
   * -u/(n-1) and the covariance C to n/(n-1) C - n/(n-1)^2 u u^T - shrink n/(n-1)^2 diag(u^2)
   * (u = x_i - mean; the last term is the ridge's share of it). Sherman-Morrison solves the rank-one
   * part exactly: with δ = u^T C^-1 u and γ = δ/(n-1), the distance becomes n/(n-1) δ/(1-γ) and the
   * log determinant grows by d log(n/(n-1)) + log(1-γ); the ridge's part is taken to first order,
   * w^T (shrink n/(n-1)^2 diag(u^2)) w with w = C^-1 u/(1-γ). O(d^2) per row.
   * @param x - rows of the fitted data, row-major
   * @param rows - how many rows `x` holds
   * @param fitted - how many rows this Gaussian was fitted to
   * @param shrink - the ridge it was fitted with (see {@link GaussianNoise.fit})
   */
  leaveOneOutChange(x: Float64Array, rows: number, fitted: number, shrink = 0): Float64Array {
    const d = this.dim;
    const l = this.chol;
    const n = fitted;
    const s2 = this.scale * this.scale;
    const a = n / (n - 1);
    const b = n / ((n - 1) * (n - 1));
    const out = float64(rows);
    const z = float64(d);
    const w = float64(d);
    for (let i = 0; i < rows; i++) {
      // Only z = L^-1 (x - mean) is wanted here; logDensityAt leaves it in `z`.
      this.logDensityAt(x, i * d, z);
      let zz = 0;
      for (let j = 0; j < d; j++) zz += z[j] * z[j];
      // δ in the fitted (unscaled) covariance; a ridge keeps γ below 1, the clamp guards rounding.
      const delta = zz * s2;
      const gamma = Math.min(delta / (n - 1), 1 - 1e-12);
      let ridge = 0;
      if (shrink > 0) {
        // w = C^-1 u / (1 - γ) = s^2 L^-T z / (1 - γ): back substitution through the factor.
        for (let j = d - 1; j >= 0; j--) {
          let t = z[j];
          for (let k = j + 1; k < d; k++) t -= l[k * d + j] * w[k];
          w[j] = t * this.invDiag[j];
        }
        const f = s2 / (1 - gamma);
        for (let j = 0; j < d; j++) {
          const u = x[i * d + j] - this.mean[j];
          const wj = w[j] * f;
          ridge += u * u * wj * wj;
        }
        ridge *= shrink * b;
      }
      const left = a * (delta / (1 - gamma)) + ridge;
      out[i] = -0.5 * (d * Math.log(a) + Math.log1p(-gamma)) - (0.5 * (left - delta)) / s2;
    }
    return out;
  }

  /** The fitted Gaussian: this one with its covariance shrunk back by `scale`^2. */
  expert(): GaussianNoise {
    if (this.scale === 1) return this;
    this.unscaled ??= new GaussianNoise(
      this.dim,
      this.mean,
      this.chol.map((v) => v / this.scale),
      1,
    );
    return this.unscaled;
  }

  /**
   * The fitted Gaussian's log density from this one's: both share the Mahalanobis distance up to
   * the factor scale^2, so log q_1(x) = logNorm_1 - scale^2 (logNorm_s - log q_s(x)).
   */
  expertFromOwn(own: Float64Array): Float64Array {
    const e = this.expert();
    const s2 = this.scale * this.scale;
    const out = float64(own.length);
    for (let i = 0; i < own.length; i++) out[i] = e.logNorm - s2 * (this.logNorm - own[i]);
    return out;
  }

  toJSON(): FittedNoise {
    return { type: 'gaussian', scale: this.scale, mean: [...this.mean], chol: [...this.chol] };
  }
}
