/**
 * Small dense linear algebra on row-major Float64Arrays: what the noise distributions need
 * (covariance, Cholesky, triangular solves), nothing more.
 */

/** A row-major matrix of `rows` x `cols` numbers. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Allocates a zero matrix. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** Rows `idx` of `m`, copied. */
export function takeRows(m: Matrix, idx: ArrayLike<number>): Matrix {
  const out = zeros(idx.length, m.cols);
  for (let i = 0; i < idx.length; i++) {
    out.data.set(m.data.subarray(idx[i] * m.cols, (idx[i] + 1) * m.cols), i * m.cols);
  }
  return out;
}

/**
 * Weighted mean and covariance of the rows of `x`.
 * @param weights - per-row weights (default all 1); normalised internally
 */
export function meanCov(x: Matrix, weights?: Float64Array): { mean: Float64Array; cov: Float64Array } {
  const { rows: n, cols: d, data } = x;
  const mean = new Float64Array(d);
  const cov = new Float64Array(d * d);
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    wsum += w;
    for (let j = 0; j < d; j++) mean[j] += w * data[i * d + j];
  }
  if (wsum <= 0) return { mean, cov };
  for (let j = 0; j < d; j++) mean[j] /= wsum;
  const r = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    if (w === 0) continue;
    for (let j = 0; j < d; j++) r[j] = data[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) {
      const wr = w * r[j];
      for (let k = 0; k <= j; k++) cov[j * d + k] += wr * r[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k <= j; k++) {
      const v = cov[j * d + k] / wsum;
      cov[j * d + k] = v;
      cov[k * d + j] = v;
    }
  }
  return { mean, cov };
}

/**
 * Lower Cholesky factor L of a symmetric positive semi-definite d x d matrix, with `ridge` added to
 * the diagonal (scaled by the mean diagonal) until the factorisation succeeds.
 */
export function cholesky(a: Float64Array, d: number, ridge = 1e-6): Float64Array {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += a[i * d + i];
  const scale = trace > 0 ? trace / d : 1;
  for (let eps = ridge; eps < 1e6; eps *= 10) {
    const l = tryCholesky(a, d, eps * scale);
    if (l) return l;
  }
  throw new RangeError('cholesky: matrix is not positive definite even with a large ridge');
}

function tryCholesky(a: Float64Array, d: number, jitter: number): Float64Array | null {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j] + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j];
      }
    }
  }
  return l;
}

/** log |det(L L^T)| from a Cholesky factor. */
export function logDetFromCholesky(l: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += Math.log(l[i * d + i]);
  return 2 * s;
}

/** Numerically stable log(sum(exp(v))). */
export function logSumExp(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] > m) m = v[i];
  if (m === -Infinity || m === Infinity) return m;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}

/** log(e^a + e^b): with two terms, one exp and one log1p (logSumExp takes two exps and a log). */
export function logAddExp(a: number, b: number): number {
  const m = a > b ? a : b;
  if (m === -Infinity || m === Infinity) return m;
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** log(2 pi) */
export const LOG_2PI = Math.log(2 * Math.PI);
