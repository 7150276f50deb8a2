import type { Rng } from '../random';

/** A noise spec as a user writes it in the training config. */
export type NoiseSpec =
  | { type: 'gaussian'; scale?: number; trim?: number; shrink?: number | 'ledoitWolf' | 'auto' }
  | { type: 'gmm'; components?: number; maxComponents?: number; scale?: number }
  | { type: 'uniform'; margin?: number }
  | { type: 'marginals'; bandwidth?: number }
  | { type: 'kde'; neighbours?: number; neighbourShare?: number; bandwidth?: number }
  | { type: 'mixture'; components: { weight: number; noise: NoiseSpec }[] };

/** Fitted parameters of a noise distribution, as stored in the model manifest. */
export type FittedNoise =
  | { type: 'gaussian'; scale: number; mean: number[]; chol: number[] }
  | { type: 'gmm'; scale: number; weights: number[]; means: number[][]; chols: number[][] }
  | { type: 'uniform'; margin: number; low: number[]; high: number[] }
  | { type: 'marginals'; values: number[][]; bandwidths: number[] }
  | { type: 'kde'; shift: number[]; scale: number[]; centres: number[][]; widths: number[] }
  | { type: 'mixture'; weights: number[]; components: FittedNoise[] };

/** A noise distribution q over the numeric block of the encoding. */
export interface ContinuousNoise {
  readonly dim: number;
  /** Whether q has positive density everywhere (log q finite for every input). */
  readonly fullSupport: boolean;
  /** n samples, n x dim row-major. */
  sample(n: number, rng: Rng): Float64Array;
  /** log q(x) for n rows of x; -Infinity outside q's support. */
  logDensity(x: Float64Array, n: number): Float64Array;
  /**
   * {@link logDensity} of rows that each differ from the row before in one column at most
   * (`col[i]`: that column, -1 for none, -2 for a row to take in full), faster where q allows
   * (see GaussianNoise). Absent: logDensity serves.
   */
  logDensityPath?(x: Float64Array, n: number, col: Int32Array): Float64Array;
  /** The fitted parameters, for the artifact. */
  toJSON(): FittedNoise;
  /**
   * This distribution as a model of the data, for the productOfExperts score: as fitted, before the
   * widening (`scale`) that makes it cover far regions as noise. Absent: the noise itself.
   */
  expert?(): ContinuousNoise;
  /**
   * The expert's log density at rows where this distribution's own is `own`, when the one follows
   * from the other without looking at the rows again (saves a second pass over them).
   */
  expertFromOwn?(own: Float64Array): Float64Array;
}
