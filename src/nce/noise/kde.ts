import { LOG_2PI, type Matrix } from '../linalg';
import { permutation, type Rng } from '../random';
import type { ContinuousNoise, FittedNoise } from './types';

/** Reference rows kept as kernel centres at most: scoring costs centres x features per record. */
export const MAX_CENTRES = 1024;

/**
 * An adaptive kernel density (a "sample-point" estimator): one Gaussian kernel on each of up to
 * {@link MAX_CENTRES} reference rows, each as wide as a share (`bandwidth`) of the distance from its
 * row to that row's k-th nearest neighbour among the centres, in coordinates where every feature
 * has unit standard deviation. Kernels are narrow where the data is dense and wide where it is
 * sparse, so a small normal class far from the others keeps its own mode, which a single Gaussian
 * blurs into the gap between classes (where records of an unseen class then look typical). It is
 * a proper density: a mixture of normalised kernels, sampled by picking a centre and adding its
 * kernel's noise.
 */
export class KdeNoise implements ContinuousNoise {
  readonly fullSupport = true;
  /** Per centre: -dim log h - log m - dim/2 log 2 pi - sum log scale (the kernel's log normaliser). */
  readonly logNorms: Float64Array;
  /** Per centre: 1 / (2 h^2). */
  readonly precisions: Float64Array;

  /**
   * @param centres - m x dim, row-major, in standardised coordinates ((x - shift) / scale)
   * @param widths - the m kernels' standard deviations, standardised coordinates
   */
  constructor(
    readonly dim: number,
    readonly shift: Float64Array,
    readonly scale: Float64Array,
    readonly centres: Float64Array,
    readonly widths: Float64Array,
  ) {
    const m = widths.length;
    let logJacobian = 0;
    for (let j = 0; j < dim; j++) logJacobian += Math.log(scale[j]);
    const common = -Math.log(m) - 0.5 * dim * LOG_2PI - logJacobian;
    this.logNorms = widths.map((h) => common - dim * Math.log(h));
    this.precisions = widths.map((h) => 1 / (2 * h * h));
  }

  /**
   * Fits the density to the rows of `x`.
   * @param neighbours - k of the k-th nearest neighbour that sets each kernel's width
   * @param bandwidth - the width as a share of that distance
   * @param neighbourShare - k is at least this share of the centres: a group of fewer rows than k
   *   then has kernels as wide as the distance to rows outside it, so it does not read as a mode
   *   of its own however tight it is
   */
  static fit(x: Matrix, rng: Rng, neighbours: number, bandwidth: number, neighbourShare = 0): KdeNoise {
    const d = x.cols;
    const shift = new Float64Array(d);
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < x.rows; i++) s += x.data[i * d + j];
      shift[j] = s / Math.max(1, x.rows);
      let v = 0;
      for (let i = 0; i < x.rows; i++) v += (x.data[i * d + j] - shift[j]) ** 2;
      const sd = Math.sqrt(v / Math.max(1, x.rows));
      scale[j] = sd > 0 ? sd : 1;
    }
    const picked = permutation(x.rows, rng).subarray(0, Math.min(MAX_CENTRES, x.rows)).sort();
    const m = picked.length;
    const centres = new Float64Array(m * d);
    picked.forEach((row, c) => {
      for (let j = 0; j < d; j++) centres[c * d + j] = (x.data[row * d + j] - shift[j]) / scale[j];
    });
    const k = Math.max(1, Math.min(Math.max(neighbours, Math.round(neighbourShare * m)), m - 1));
    const distances = kthNeighbourDistances(centres, m, d, k);
    // Repeated rows are at distance 0 from their copies: their kernels get the width that a
    // typical centre's distance gives, a tenth of it, so the density stays finite and smooth.
    const positive = Array.from(distances).filter((v) => v > 0).sort((a, b) => a - b);
    const typical = positive.length > 0 ? positive[Math.floor(positive.length / 2)] : 1;
    const widths = distances.map((r) => bandwidth * Math.max(r, 0.1 * typical));
    return new KdeNoise(d, shift, scale, centres, widths);
  }

  static fromJSON(p: Extract<FittedNoise, { type: 'kde' }>): KdeNoise {
    return new KdeNoise(p.shift.length, Float64Array.from(p.shift), Float64Array.from(p.scale), Float64Array.from(p.centres.flat()), Float64Array.from(p.widths));
  }

  toJSON(): FittedNoise {
    const d = this.dim;
    const centres = Array.from({ length: this.widths.length }, (_, c) => Array.from(this.centres.subarray(c * d, (c + 1) * d)));
    return { type: 'kde', shift: Array.from(this.shift), scale: Array.from(this.scale), centres, widths: Array.from(this.widths) };
  }

  sample(n: number, rng: Rng): Float64Array {
    const d = this.dim;
    const m = this.widths.length;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const c = rng.int(m);
      const h = this.widths[c];
      for (let j = 0; j < d; j++) out[i * d + j] = this.shift[j] + this.scale[j] * (this.centres[c * d + j] + h * rng.normal());
    }
    return out;
  }

  /**
   * log q of n rows: the log-sum-exp of every kernel's log density (see {@link kernelLogDensities}).
   */
  logDensity(x: Float64Array, n: number): Float64Array {
    return kernelLogDensities([this], x, n)[0];
  }

  /**
   * Whether `other` has the same coordinates and centres (kernel densities fitted to the same rows
   * with the same draw of centres, differing in their widths): the distances from a record to
   * the centres then serve both, see {@link kernelLogDensities}.
   */
  sharesCentresWith(other: KdeNoise): boolean {
    const same = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
    return other === this || (same(this.shift, other.shift) && same(this.scale, other.scale) && same(this.centres, other.centres));
  }
}

/**
 * log q of n rows under each of `kdes`, kernel densities on the same centres (see
 * {@link KdeNoise.sharesCentresWith}), each the log-sum-exp of its kernels' log densities. The
 * squared distances from each row to every centre are computed once for all the densities, exactly
 * as the sum of (z - c)^2 (four rows at a time, so each centre is read once per four); kernels more
 * than 40 nats below the nearest one add less than 1e-17 of the sum and are left out of it. A
 * kernel per reference row is the bulk of a small model's scoring cost.
 */
export function kernelLogDensities(kdes: readonly KdeNoise[], x: Float64Array, n: number): Float64Array[] {
  const [first] = kdes;
  const d = first.dim;
  const m = first.widths.length;
  const { shift, scale, centres } = first;
  const outs = kdes.map(() => new Float64Array(n));
  const z = new Float64Array(4 * d);
  const distances = new Float64Array(4 * m);
  const terms = new Float64Array(m);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    z.fill(0);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) z[r * d + j] = (x[(i0 + r) * d + j] - shift[j]) / scale[j];
    }
    for (let c = 0; c < m; c++) {
      const o = c * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < d; j++) {
        const v = centres[o + j];
        const t0 = z[j] - v;
        const t1 = z[d + j] - v;
        const t2 = z[2 * d + j] - v;
        const t3 = z[3 * d + j] - v;
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
      }
      distances[c] = s0;
      distances[m + c] = s1;
      distances[2 * m + c] = s2;
      distances[3 * m + c] = s3;
    }
    for (let r = 0; r < rows; r++) {
      const ro = r * m;
      kdes.forEach((q, k) => {
        const { logNorms, precisions } = q;
        let best = -Infinity;
        for (let c = 0; c < m; c++) {
          const t = logNorms[c] - distances[ro + c] * precisions[c];
          terms[c] = t;
          if (t > best) best = t;
        }
        if (!Number.isFinite(best)) {
          outs[k][i0 + r] = best;
          return;
        }
        let sum = 0;
        const floor = best - 40;
        for (let c = 0; c < m; c++) if (terms[c] > floor) sum += Math.exp(terms[c] - best);
        outs[k][i0 + r] = best + Math.log(sum);
      });
    }
  }
  return outs;
}

/** Each of m rows' Euclidean distance to its k-th nearest other row. */
function kthNeighbourDistances(rows: Float64Array, m: number, d: number, k: number): Float64Array {
  const out = new Float64Array(m);
  const dist = new Float64Array(m);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = rows[a * d + j] - rows[b * d + j];
        s += t * t;
      }
      dist[b] = s;
    }
    dist[a] = Infinity;
    // The k-th smallest: sorting m values is cheap beside the m x d distances above.
    out[a] = Math.sqrt(dist.sort()[k - 1]);
  }
  return out;
}
