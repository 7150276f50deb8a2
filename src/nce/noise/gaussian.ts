import { float64 } from '../arrays';
import { cholesky, LOG_2PI, logDetFromCholesky, meanCov, type Matrix, takeRows } from '../linalg';
import { permutation, type Rng } from '../random';
import { quantileSorted } from '../schema';
import type { ContinuousNoise, FittedNoise } from './types';

/** Concentration steps of a trimmed fit; a few suffice in practice. */
const TRIM_STEPS = 3;

/**
 * How a Gaussian's covariance is kept well conditioned:
 * - a number: a ridge proportional to each feature's own variance, cov_jj *= 1 + shrink. It keeps
 *   the covariance invertible when features outnumber records or are collinear without an absolute
 *   ridge that would swamp features of small scale;
 * - `"ledoitWolf"`: Ledoit-Wolf shrinkage, (1 - λ) S + λ μ I with λ estimated from the rows and μ
 *   the mean variance, isotropic in the data's own units (see `units` of {@link GaussianNoise.fit})
 *   or in standard deviations, whichever held-out rows favour (see `ledoitWolfTarget`). Where
 *   records are few beside the features (image and text embeddings: 60 to 900 rows of 512 to 768
 *   features), the sample covariance's small eigenvalues are mostly estimation noise, and many
 *   features never vary in the reference (a ResNet unit that no normal image fires): a 1% ridge
 *   leaves the first to dominate the Mahalanobis distance and gives the second almost no variance,
 *   so any value there swamps every other feature. Ledoit-Wolf gives both λ μ.
 * - `"auto"`: a 1% ridge up to {@link LEDOIT_WOLF_ABOVE_FEATURES} features, Ledoit-Wolf beyond.
 */
export type Shrinkage = number | 'ledoitWolf' | 'auto';

/** Beyond this many features `shrink: "auto"` is Ledoit-Wolf shrinkage; up to it, a 1% ridge. */
export const LEDOIT_WOLF_ABOVE_FEATURES = 128;
const AUTO_RIDGE = 0.01;
/** Ledoit-Wolf chooses its target on held-out rows when it has at least this many. */
const LEDOIT_WOLF_MIN_ROWS = 10;

type Target = 'units' | 'standardised';

/**
 * A covariance as its estimator formed it from the sample covariance S:
 * `sample` S + `diagonal` diag(S) + `isotropic` (tr U S U / d) U^-2, U = diag(`units`). Leaving a row out changes each part
 * as it changes S, which {@link GaussianNoise.leaveOneOutChange} follows.
 */
interface CovarianceForm {
  sample: number;
  diagonal: number;
  isotropic: number;
  /** U of the isotropic part: the identity in coordinates scaled by these (null: all 1). */
  units: Float64Array | null;
}
const SAMPLE: CovarianceForm = { sample: 1, diagonal: 0, isotropic: 0, units: null };

interface Estimate {
  mean: Float64Array;
  cov: Float64Array;
  form: CovarianceForm;
}

/** Mean and regularised covariance of the rows of `x` (see {@link Shrinkage}). */
function estimate(x: Matrix, how: number | 'ledoitWolf' | undefined, units: Float64Array): Estimate {
  const { mean, cov } = meanCov(x);
  if (how === undefined) return { mean, cov, form: SAMPLE };
  if (how !== 'ledoitWolf') return { mean, cov: ridged(cov, x.cols, how), form: { sample: 1, diagonal: how, isotropic: 0, units: null } };
  return { mean, ...ledoitWolf(x, mean, cov, units, ledoitWolfTarget(x, units)) };
}

/**
 * Where Ledoit-Wolf's identity target is isotropic: in `units` (the data's own) or in standard
 * deviations. Chosen on every fifth row by the median log q of each fitted to the other rows: the
 * data's own units pay where they are shared (embedding units; the features that never vary
 * there then get the typical variance in those units), standard deviations where columns are
 * measured in different units and one large-scale column would lend every small one its variance.
 * Too few rows to hold any out: standard deviations, which cannot go wrong that way.
 */
function ledoitWolfTarget(x: Matrix, units: Float64Array): Target {
  if (x.rows < LEDOIT_WOLF_MIN_ROWS) return 'standardised';
  const rows = Array.from({ length: x.rows }, (_, i) => i);
  const rest = takeRows(x, rows.filter((i) => i % 5 !== 4));
  const held = takeRows(x, rows.filter((i) => i % 5 === 4));
  const part = meanCov(rest);
  const likelihood = (target: Target): number => {
    const c = ledoitWolf(rest, part.mean, Float64Array.from(part.cov), units, target).cov;
    const g = new GaussianNoise(x.cols, part.mean, cholesky(c, x.cols, 1e-9));
    return quantileSorted(g.logDensity(held.data, held.rows).sort(), 0.5);
  };
  return likelihood('units') > likelihood('standardised') ? 'units' : 'standardised';
}

/** cov + shrink diag(cov), a constant feature's variance floored on the scale of the others. */
function ridged(cov: Float64Array, d: number, shrink: number): Float64Array {
  let trace = 0;
  for (let j = 0; j < d; j++) trace += cov[j * d + j] / d;
  // A constant feature gets a ridge on the scale of the others, so q keeps a density there.
  for (let j = 0; j < d; j++) cov[j * d + j] += shrink * Math.max(cov[j * d + j], 1e-6 * (trace || 1));
  return cov;
}

/**
 * Ledoit and Wolf's (2004) shrinkage of the sample covariance `cov` (overwritten), computed in
 * coordinates where feature j is multiplied by unit j, toward the mean variance there times the
 * identity: λ = min(β, δ) / δ with δ = |S - μ I|^2 / d and β = (mean over rows of |r r^T|^2 - |S|^2)
 * / (d n). Unit j is `units[j]` for the target 'units', 1 / (feature j's standard deviation) for
 * 'standardised' (the target is then μ diag(S), and μ for a feature that never varied).
 */
function ledoitWolf(x: Matrix, mean: Float64Array, cov: Float64Array, units: Float64Array, target: Target): { cov: Float64Array; form: CovarianceForm } {
  const { rows: n, cols: d, data } = x;
  const variances = Float64Array.from({ length: d }, (_, j) => cov[j * d + j]);
  const unit = target === 'units' ? units : variances.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 1));
  let trace = 0;
  let frobenius = 0;
  for (let j = 0; j < d; j++) {
    trace += variances[j] * unit[j] * unit[j];
    for (let k = 0; k < d; k++) frobenius += (cov[j * d + k] * unit[j] * unit[k]) ** 2;
  }
  const mu = trace / d;
  let fourth = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += ((data[i * d + j] - mean[j]) * unit[j]) ** 2;
    fourth += s * s;
  }
  const beta = (fourth / n - frobenius) / (d * n);
  const delta = (frobenius - d * mu * mu) / d;
  const lambda = delta > 0 ? Math.min(1, Math.max(0, Math.min(beta, delta) / delta)) : 0;
  const meanVariance = variances.reduce((s, v) => s + v, 0) / d;
  for (let i = 0; i < cov.length; i++) cov[i] *= 1 - lambda;
  // The target mu I in the scaled coordinates is mu / unit^2 in these, constant features included:
  // a feature that never varied in the rows gets the typical variance of one that did, times λ.
  for (let j = 0; j < d; j++) cov[j * d + j] = Math.max(cov[j * d + j] + (lambda * mu) / (unit[j] * unit[j]), 1e-6 * (meanVariance || 1));
  // Leaving a row out moves the standardised target only through diag(S): μ there is the share of
  // features that vary.
  const form = target === 'units' ? { sample: 1 - lambda, diagonal: 0, isotropic: lambda, units } : { sample: 1 - lambda, diagonal: lambda * mu, isotropic: 0, units: null };
  return { cov, form };
}

/** A multivariate normal N(mean, L L^T), sampled and evaluated through its Cholesky factor L. */
export class GaussianNoise implements ContinuousNoise {
  readonly fullSupport = true;
  private readonly logNorm: number;
  /** 1 / L[i][i]: forward substitution multiplies by them (a division per element costs more). */
  private readonly invDiag: Float64Array;
  private unscaled: GaussianNoise | null = null;
  /** C^-1 of this distribution's covariance C, row-major; built on the first {@link logDensityPath}. */
  private precisionMatrix: Float64Array | null = null;

  constructor(
    readonly dim: number,
    readonly mean: Float64Array,
    readonly chol: Float64Array,
    readonly scale = 1,
    /** How the fit formed the covariance: what leaving one of its rows out changes. */
    private readonly form: CovarianceForm = SAMPLE,
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
   * @param shrink - how the covariance is kept well conditioned (see {@link Shrinkage}). Unset: a
   *   fixed 1e-4 ridge, as before the option existed.
   * @param units - each feature's unit in the data's own terms: the raw value of one step of `x`
   *   (the encoding's robust scale). Ledoit-Wolf's isotropic target is isotropic in those units.
   *   Unset: the coordinates of `x`.
   */
  static fit(x: Matrix, scale = 1, trim = 0, shrink?: Shrinkage, units?: ArrayLike<number>): GaussianNoise {
    const d = x.cols;
    const own = units ? Float64Array.from(units) : new Float64Array(d).fill(1);
    if (own.length !== d || own.some((u) => !(u > 0 && Number.isFinite(u)))) {
      throw new RangeError(`GaussianNoise.fit: units must be ${d} positive finite numbers`);
    }
    const how = shrink === 'auto' ? (d > LEDOIT_WOLF_ABOVE_FEATURES ? 'ledoitWolf' : AUTO_RIDGE) : shrink;
    const jitter = how === undefined ? 1e-4 : 1e-9;
    let est = estimate(x, how, own);
    const keep = Math.max(d + 1, Math.round(x.rows * (1 - trim)));
    for (let step = 0; trim > 0 && keep < x.rows && step < TRIM_STEPS; step++) {
      const g = new GaussianNoise(d, est.mean, cholesky(est.cov, d, jitter));
      const ld = g.logDensity(x.data, x.rows);
      const order = Array.from({ length: x.rows }, (_, i) => i).sort((a, b) => ld[b] - ld[a]);
      est = estimate(takeRows(x, order.slice(0, keep)), how, own);
    }
    const cov = est.cov;
    for (let i = 0; i < cov.length; i++) cov[i] *= scale * scale;
    return new GaussianNoise(d, est.mean, cholesky(cov, d, jitter), scale, est.form);
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
   * it, the more so the more features there are per row. With the covariance formed as
   * C = α S + β diag(S) + γ (tr U S U / d) U^-2 (see `CovarianceForm`, U = diag(units); α = 1,
   * β = γ = 0 unregularised), leaving row i out moves the mean by -u/(n-1) and C to
   * n/(n-1) C - α n/(n-1)^2 u u^T - n/(n-1)^2 (β diag(u^2) + γ |U u|^2/d U^-2) (u = x_i - mean;
   * the shrinkage's weight λ is held fixed). Sherman-Morrison solves the rank-one part exactly: with
   * δ = u^T C^-1 u and g = α δ/(n-1), the distance becomes n/(n-1) δ/(1-g) and the log determinant
   * grows by d log(n/(n-1)) + log(1-g); the regularisation's part E = n/(n-1)^2 (β diag(u^2) +
   * γ |U u|^2/d U^-2) is taken to first order: the distance grows by w^T E w with
   * w = C^-1 u/(1-g), the log determinant shrinks by tr(C^-1 E) (n-1)/n. O(d^2) per row, and
   * O(d^3) once for diag(C^-1) when there is regularisation.
   * @param x - rows of the fitted data, row-major
   * @param rows - how many rows `x` holds
   * @param fitted - how many rows this Gaussian was fitted to
   */
  leaveOneOutChange(x: Float64Array, rows: number, fitted: number): Float64Array {
    const d = this.dim;
    if (d === 0) return float64(rows);
    const l = this.chol;
    const n = fitted;
    const s2 = this.scale * this.scale;
    const a = n / (n - 1);
    const b = n / ((n - 1) * (n - 1));
    const { sample: alpha, diagonal: beta, isotropic: gammaIso, units } = this.form;
    const out = float64(rows);
    const z = float64(d);
    const w = float64(d);
    // The regularisation's first-order share of the log determinant needs diag(C^-1).
    const precision = beta > 0 || gammaIso > 0 ? this.precisionDiagonal() : null;
    for (let i = 0; i < rows; i++) {
      // Only z = L^-1 (x - mean) is wanted here; logDensityAt leaves it in `z`.
      this.logDensityAt(x, i * d, z);
      let zz = 0;
      for (let j = 0; j < d; j++) zz += z[j] * z[j];
      // δ in the fitted (unscaled) covariance; regularisation keeps g below 1, the clamp guards rounding.
      const delta = zz * s2;
      const g = Math.min((alpha * delta) / (n - 1), 1 - 1e-12);
      let ridge = 0;
      let logDet = 0;
      if (beta > 0 || gammaIso > 0) {
        // w = C^-1 u / (1 - g) = s^2 L^-T z / (1 - g): back substitution through the factor.
        for (let j = d - 1; j >= 0; j--) {
          let t = z[j];
          for (let k = j + 1; k < d; k++) t -= l[k * d + j] * w[k];
          w[j] = t * this.invDiag[j];
        }
        const f = s2 / (1 - g);
        let uu = 0;
        let uw = 0;
        let ww = 0;
        let up = 0;
        let pp = 0;
        for (let j = 0; j < d; j++) {
          const u = x[i * d + j] - this.mean[j];
          const wj = w[j] * f;
          const unit = units ? units[j] : 1;
          const p = (precision as Float64Array)[j];
          uu += u * u * unit * unit;
          uw += u * u * wj * wj;
          ww += (wj * wj) / (unit * unit);
          up += u * u * p;
          pp += p / (unit * unit);
        }
        ridge = b * (beta * uw + (gammaIso * uu * ww) / d);
        // tr(C_-i^-1 E) with E the regularisation's change: its share of the log determinant.
        logDet = -(b / a) * (beta * up + (gammaIso * uu * pp) / d);
      }
      const left = a * (delta / (1 - g)) + ridge;
      out[i] = -0.5 * (d * Math.log(a) + Math.log1p(-g) + logDet) - (0.5 * (left - delta)) / s2;
    }
    return out;
  }

  /**
   * log q of rows that each differ from the row before in one column at most, in O(d) a row
   * instead of {@link logDensity}'s O(d^2): the path an explanation walks from its baseline to a
   * record, one feature at a time. With v = C^-1 (x - mean) and m = (x - mean)' v, moving column c
   * by t adds 2 t v_c + t^2 C^-1_cc to m and t C^-1_.c to v. `col[i]` is the column in which row i
   * differs from row i - 1, -1 where it does not, or -2 where row i starts a new path (taken in
   * full, O(d^2)); row 0 always does. C^-1 is formed once per distribution, in O(d^3).
   */
  logDensityPath(x: Float64Array, n: number, col: Int32Array): Float64Array {
    const d = this.dim;
    const p = (this.precisionMatrix ??= this.precision());
    const out = float64(n);
    const v = float64(d);
    const diff = float64(d);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const c = col[i];
      const at = i * d;
      if (i === 0 || c === -2) {
        for (let j = 0; j < d; j++) diff[j] = x[at + j] - this.mean[j];
        m = 0;
        for (let j = 0; j < d; j++) {
          let s = 0;
          const row = j * d;
          for (let k = 0; k < d; k++) s += p[row + k] * diff[k];
          v[j] = s;
          m += diff[j] * s;
        }
      } else if (c >= 0) {
        const t = x[at + c] - x[at - d + c];
        if (t !== 0) {
          m += 2 * t * v[c] + t * t * p[c * d + c];
          const row = c * d;
          for (let j = 0; j < d; j++) v[j] += t * p[row + j];
        }
      }
      out[i] = this.logNorm - 0.5 * Math.max(0, m);
    }
    return out;
  }

  /** C^-1 = L^-T L^-1 of this distribution's covariance C = L L^T, row-major (symmetric). */
  private precision(): Float64Array {
    const d = this.dim;
    const l = this.chol;
    // cols[j d + r] = (L^-1)_rj: column j of L^-1 (forward substitution of e_j), nonzero from r = j on.
    const cols = float64(d * d);
    for (let j = 0; j < d; j++) {
      const cj = j * d;
      for (let r = j; r < d; r++) {
        let t = r === j ? 1 : 0;
        const lr = r * d;
        for (let k = j; k < r; k++) t -= l[lr + k] * cols[cj + k];
        cols[cj + r] = t * this.invDiag[r];
      }
    }
    const out = float64(d * d);
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        let s = 0;
        for (let r = b; r < d; r++) s += cols[a * d + r] * cols[b * d + r];
        out[a * d + b] = s;
        out[b * d + a] = s;
      }
    }
    return out;
  }

  /** diag(C^-1) of the fitted (unscaled) covariance C: column sums of squares of L^-1, times scale^2. */
  private precisionDiagonal(): Float64Array {
    const d = this.dim;
    const l = this.chol;
    const out = float64(d);
    const col = float64(d);
    for (let j = 0; j < d; j++) {
      // Column j of L^-1: forward substitution of e_j, nonzero from row j on.
      let sum = 0;
      for (let r = j; r < d; r++) {
        let t = r === j ? 1 : 0;
        for (let k = j; k < r; k++) t -= l[r * d + k] * col[k];
        col[r] = t * this.invDiag[r];
        sum += col[r] * col[r];
      }
      out[j] = sum * this.scale * this.scale;
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
