import type { Matrix } from '../linalg';
import type { Rng } from '../random';
import { GaussianNoise } from './gaussian';
import { GmmNoise } from './gmm';
import { KdeNoise } from './kde';
import { MarginalsNoise } from './marginals';
import { expertLogDensity, MixtureNoise } from './mixture';
import type { ContinuousNoise, FittedNoise, NoiseSpec } from './types';
import { UniformNoise } from './uniform';

export type { ContinuousNoise, FittedNoise, NoiseSpec } from './types';
export { DiscreteNoise } from './discrete';
export { GaussianNoise, GmmNoise, KdeNoise, MarginalsNoise, MixtureNoise, UniformNoise };
export { kernelLogDensities } from './kde';
export type { Shrinkage } from './gaussian';

/**
 * Fits the noise distribution `spec` to the numeric block `x` of the training data.
 * @param units - each column's unit in the data's own terms (see {@link GaussianNoise.fit})
 */
export function fitNoise(spec: NoiseSpec, x: Matrix, rng: Rng, units?: ArrayLike<number>): ContinuousNoise {
  switch (spec.type) {
    case 'gaussian':
      return GaussianNoise.fit(x, spec.scale ?? 1, spec.trim ?? 0, spec.shrink, units);
    case 'gmm':
      return GmmNoise.fit(x, rng, { components: spec.components, maxComponents: spec.maxComponents, scale: spec.scale });
    case 'uniform':
      return UniformNoise.fit(x, spec.margin ?? 0.1);
    case 'marginals':
      return MarginalsNoise.fit(x, rng, spec.bandwidth ?? 1);
    case 'kde':
      return KdeNoise.fit(x, rng, spec.neighbours ?? 10, spec.bandwidth ?? 0.5, spec.neighbourShare ?? 0);
    case 'mixture': {
      const total = spec.components.reduce((s, c) => s + c.weight, 0);
      return new MixtureNoise(
        Float64Array.from(spec.components.map((c) => c.weight / total)),
        spec.components.map((c) => fitNoise(c.noise, x, rng, units)),
      );
    }
  }
}

/**
 * log q(x) for n rows, and the log weighted harmonic mean of q's mixture components (log q itself
 * when q is not a mixture).
 * @param experts - take the components as fitted to the data, not as widened for the noise (a
 *   Gaussian at scale 1, not at its noise scale)
 */
export function noiseLogDensities(
  noise: ContinuousNoise,
  x: Float64Array,
  n: number,
  experts = false,
): { density: Float64Array; harmonic: Float64Array } {
  if (noise instanceof MixtureNoise) return noise.logDensityAndHarmonic(x, n, experts);
  const density = noise.logDensity(x, n);
  return { density, harmonic: experts ? expertLogDensity(noise, density, x, n) : density };
}

/** Rebuilds a fitted noise distribution from its manifest form. */
export function restoreNoise(p: FittedNoise): ContinuousNoise {
  switch (p.type) {
    case 'gaussian':
      return GaussianNoise.fromJSON(p);
    case 'gmm':
      return GmmNoise.fromJSON(p);
    case 'uniform':
      return UniformNoise.fromJSON(p);
    case 'marginals':
      return MarginalsNoise.fromJSON(p);
    case 'kde':
      return KdeNoise.fromJSON(p);
    case 'mixture':
      return new MixtureNoise(Float64Array.from(p.weights), p.components.map(restoreNoise));
  }
}
