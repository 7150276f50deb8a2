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
  private readonly logNorms: Float64Array;
  /** Per centre: 1 / (2 h^2). */
  private readonly precisions: Float64Array;
  /** Per centre: its squared norm, for distances as |z|^2 + |c|^2 - 2 z.c. */
  private readonly norms: Float64Array;
  /** The largest of {@link norms} and of {@link precisions}: they bound that form's rounding. */
  private readonly largestNorm: number;
  private readonly largestPrecision: number;

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
    this.norms = new Float64Array(widths.length);
    for (let c = 0; c < widths.length; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += centres[c * dim + j] ** 2;
      this.norms[c] = s;
    }
    this.largestNorm = this.norms.reduce((a, v) => Math.max(a, v), 0);
    this.largestPrecision = this.precisions.reduce((a, v) => Math.max(a, v), 0);
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
   * log q of n rows: the log-sum-exp of every kernel's log density. Each kernel is first placed by
   * its squared distance taken as |z|^2 + |c|^2 - 2 z.c (dot products, four rows at a time so each
   * centre is read once per four); that form rounds in proportion to the vectors' size rather than
   * their distance, so the kernels that can matter (within 40 nats of the nearest, allowing for
   * that rounding) are computed again exactly from z - c, and only those are summed: the others add
   * less than 1e-17 of the sum. A kernel per reference row is the bulk of a small model's scoring
   * cost.
   */
  logDensity(x: Float64Array, n: number): Float64Array {
    const d = this.dim;
    const m = this.widths.length;
    const out = new Float64Array(n);
    const z = new Float64Array(4 * d);
    const zz = new Float64Array(4);
    const terms = new Float64Array(4 * m);
    const top = new Float64Array(4);
    const dots = new Float64Array(4);
    for (let i0 = 0; i0 < n; i0 += 4) {
      const rows = Math.min(4, n - i0);
      z.fill(0);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const v = (x[(i0 + r) * d + j] - this.shift[j]) / this.scale[j];
          z[r * d + j] = v;
          s += v * v;
        }
        zz[r] = s;
      }
      top.fill(-Infinity);
      for (let c = 0; c < m; c++) {
        const o = c * d;
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        for (let j = 0; j < d; j++) {
          const v = this.centres[o + j];
          d0 += z[j] * v;
          d1 += z[d + j] * v;
          d2 += z[2 * d + j] * v;
          d3 += z[3 * d + j] * v;
        }
        dots[0] = d0;
        dots[1] = d1;
        dots[2] = d2;
        dots[3] = d3;
        for (let r = 0; r < rows; r++) {
          const t = this.logNorms[c] - Math.max(0, zz[r] + this.norms[c] - 2 * dots[r]) * this.precisions[c];
          terms[r * m + c] = t;
          if (t > top[r]) top[r] = t;
        }
      }
      for (let r = 0; r < rows; r++) {
        if (!Number.isFinite(top[r])) {
          out[i0 + r] = top[r];
          continue;
        }
        // Bound on any term's rounding above (float64, up to d-term sums), twice over: every kernel
        // that could be within 40 nats of the exact nearest one is a candidate.
        const slack = 1e-12 * (zz[r] + this.largestNorm) * this.largestPrecision;
        const cut = top[r] - 40 - 2 * slack;
        let best = -Infinity;
        const zo = r * d;
        for (let c = 0, k = r * m; c < m; c++, k++) {
          if (!(terms[k] > cut)) {
            terms[k] = -Infinity;
            continue;
          }
          let s = 0;
          const o = c * d;
          for (let j = 0; j < d; j++) {
            const t = z[zo + j] - this.centres[o + j];
            s += t * t;
          }
          terms[k] = this.logNorms[c] - s * this.precisions[c];
          if (terms[k] > best) best = terms[k];
        }
        let sum = 0;
        const floor = best - 40;
        for (let k = r * m, end = k + m; k < end; k++) if (terms[k] > floor) sum += Math.exp(terms[k] - best);
        out[i0 + r] = best + Math.log(sum);
      }
    }
    return out;
  }
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
