import { createRng } from '../../../src/nce/random';
import { zeros, type Matrix } from '../../../src/nce/linalg';
import { GaussianNoise, GmmNoise, KdeNoise, kernelLogDensities, MarginalsNoise, MixtureNoise, UniformNoise, fitNoise, noiseLogDensities, restoreNoise } from '../../../src/nce/noise';
import { widenedBandwidth } from '../../../src/nce/noise/marginals';
import { quantileSorted } from '../../../src/nce/schema';
import { resolveTrainingConfig } from '../../../src/nce/config';
import type { ContinuousNoise, Shrinkage } from '../../../src/nce/noise';

/** Rows of a 1-D or 2-D matrix from a generator. */
function matrix(rows: number, cols: number, gen: (i: number, j: number) => number): Matrix {
  const m = zeros(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.data[i * cols + j] = gen(i, j);
  return m;
}

/**
 * Compares exp(logDensity) of a 1-D distribution with a histogram of 200k of its own samples,
 * on bins where the density is not tiny; returns the largest relative error.
 */
function histogramError(q: ContinuousNoise, lo: number, hi: number, seed = 7, points = 1): number {
  const n = 200_000;
  const bins = 40;
  const width = (hi - lo) / bins;
  const s = q.sample(n, createRng(seed));
  const counts = new Float64Array(bins);
  for (const v of s) if (v >= lo && v < hi) counts[Math.floor((v - lo) / width)]++;
  // The density averaged over `points` evenly spaced points of each bin (its centre when 1).
  const at = Float64Array.from({ length: bins * points }, (_, i) => lo + (Math.floor(i / points) + ((i % points) + 0.5) / points) * width);
  const each = q.logDensity(at, at.length).map(Math.exp);
  const dens = Float64Array.from({ length: bins }, (_, b) => each.subarray(b * points, (b + 1) * points).reduce((s, v) => s + v, 0) / points);
  let worst = 0;
  for (let b = 0; b < bins; b++) {
    if (dens[b] < 0.05) continue;
    worst = Math.max(worst, Math.abs(counts[b] / (n * width) - dens[b]) / dens[b]);
  }
  return worst;
}

describe('GaussianNoise', () => {
  it('logDensity equals the closed-form bivariate normal density', () => {
    // Sigma = [[4, 1.2], [1.2, 1]] -> L = [[2, 0], [0.6, 0.8]], det = 2.56.
    const q = new GaussianNoise(2, Float64Array.from([1, -1]), Float64Array.from([2, 0, 0.6, 0.8]));
    const x = Float64Array.from([0.5, 0.3, -2, 1]);
    const got = q.logDensity(x, 2);
    const inv = [1 / 2.56, -1.2 / 2.56, -1.2 / 2.56, 4 / 2.56];
    for (let i = 0; i < 2; i++) {
      const r0 = x[i * 2] - 1;
      const r1 = x[i * 2 + 1] + 1;
      const m = r0 * (inv[0] * r0 + inv[1] * r1) + r1 * (inv[2] * r0 + inv[3] * r1);
      expect(got[i]).toBeCloseTo(-Math.log(2 * Math.PI) - 0.5 * Math.log(2.56) - 0.5 * m, 10);
    }
  });

  it('logDensity of a batch, taken two rows at a time, is each row\'s logDensityAt exactly, for odd and even batches', () => {
    const rng = createRng(7);
    for (const d of [1, 2, 5, 9]) {
      const q = GaussianNoise.fit(matrix(200, d, () => rng.normal() * 2 + rng.normal()), 1.5);
      for (const n of [1, 2, 3, 8, 11]) {
        const x = matrix(n, d, () => rng.normal() * 3).data;
        const got = q.logDensity(x, n);
        const z = new Float64Array(d);
        for (let i = 0; i < n; i++) expect(got[i]).toBe(q.logDensityAt(x, i * d, z));
      }
    }
  });

  it('fit with scale 2 recovers the mean and four times the covariance', () => {
    const rng = createRng(1);
    const x = matrix(20_000, 2, () => rng.normal());
    const q = GaussianNoise.fit(x, 2);
    expect(Math.abs(q.mean[0])).toBeLessThan(0.05);
    expect(q.chol[0] ** 2).toBeCloseTo(4, 0);
    expect(q.chol[3] ** 2 + q.chol[2] ** 2).toBeCloseTo(4, 0);
  });

  it('expert() of a Gaussian fitted at scale 2 is the Gaussian fitted at scale 1', () => {
    const rng = createRng(3);
    const x = matrix(3000, 2, (_, j) => (j === 0 ? rng.normal() : 3 * rng.normal() + 1));
    const wide = GaussianNoise.fit(x, 2);
    const fitted = GaussianNoise.fit(x, 1);
    expect(fitted.expert()).toBe(fitted);
    const probes = Float64Array.from([0, 1, 2, -3, -1, 7]);
    const got = wide.expert().logDensity(probes, 3);
    const expected = fitted.logDensity(probes, 3);
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(expected[i], 3);
    expect(wide.expert().scale).toBe(1);
  });

  it('expertFromOwn gives the fitted Gaussian\'s log density from the widened one\'s, near and far', () => {
    const rng = createRng(4);
    const x = matrix(2000, 3, (_, j) => (j + 1) * rng.normal() + j);
    const wide = GaussianNoise.fit(x, 3);
    const probes = Float64Array.from([0, 1, 2, 5, -4, 9, 300, -200, 1000]);
    const expected = wide.expert().logDensity(probes, 3);
    const got = wide.expertFromOwn(wide.logDensity(probes, 3));
    for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected[i])));
  });

  it('with trim 0.1, 10% far outliers barely widen the fit, while an untrimmed fit balloons', () => {
    const rng = createRng(2);
    const x = matrix(5000, 1, (i) => (i % 10 === 0 ? 40 + rng.normal() : rng.normal()));
    expect(GaussianNoise.fit(x, 1, 0.1).chol[0]).toBeLessThan(1.2);
    expect(GaussianNoise.fit(x, 1, 0).chol[0]).toBeGreaterThan(10);
  });

  it('with shrink 0.01, each variance grows by 1% and the covariances stay; a constant feature still gets a density', () => {
    const rng = createRng(3);
    const x = matrix(4000, 3, (_, j) => (j === 2 ? 5 : rng.normal() * (j + 1)));
    for (let i = 0; i < x.rows; i++) x.data[i * 3 + 1] += x.data[i * 3];
    const plain = GaussianNoise.fit(x, 1, 0);
    const shrunk = GaussianNoise.fit(x, 1, 0, 0.01);
    const cov = (q: GaussianNoise, a: number, b: number): number => {
      let s = 0;
      for (let k = 0; k < 3; k++) s += q.chol[a * 3 + k] * q.chol[b * 3 + k];
      return s;
    };
    expect(cov(shrunk, 0, 0) / cov(plain, 0, 0)).toBeCloseTo(1.01, 3);
    expect(cov(shrunk, 1, 1) / cov(plain, 1, 1)).toBeCloseTo(1.01, 3);
    expect(cov(shrunk, 0, 1) / cov(plain, 0, 1)).toBeCloseTo(1, 3);
    expect(cov(shrunk, 2, 2)).toBeGreaterThan(0);
    expect(Number.isFinite(shrunk.logDensity(Float64Array.from([0, 0, 5]), 1)[0])).toBe(true);
  });

  it('refresh turns n samples into n new ones with the same mean and covariance, unlike the rows it started from', () => {
    const d = 3;
    const rng = createRng(5);
    const x = matrix(3000, d, () => rng.normal());
    for (let i = 0; i < x.rows; i++) x.data[i * d + 2] = 0.8 * x.data[i * d] + 0.6 * x.data[i * d + 2] + 4;
    const q = GaussianNoise.fit(x, 1.5);
    const n = 40_000;
    const first = q.sample(n, createRng(6));
    let current = first;
    for (let k = 0; k < 5; k++) current = q.refresh(current, createRng(10 + k));
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += current[i * d + j] / n;
    const moment = (a: number, b: number): number => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (current[i * d + a] - mean[a]) * (current[i * d + b] - mean[b]);
      return s / n;
    };
    for (let j = 0; j < d; j++) expect(mean[j]).toBeCloseTo(q.mean[j], 1);
    for (const [a, b] of [[0, 0], [2, 2], [0, 2], [1, 2]]) {
      let expected = 0;
      for (let k = 0; k < d; k++) expected += q.chol[a * d + k] * q.chol[b * d + k];
      expect(Math.abs(moment(a, b) - expected)).toBeLessThan(0.05 * Math.max(1, Math.abs(expected)));
    }
    let unchanged = 0;
    for (let i = 0; i < n * d; i++) if (current[i] === first[i]) unchanged++;
    expect(unchanged).toBeLessThan(n * d * 0.01);
  });

  it('logDensity agrees with a histogram of its samples', () => {
    const q = new GaussianNoise(1, Float64Array.from([0.5]), Float64Array.from([1.5]));
    expect(histogramError(q, -3, 4)).toBeLessThan(0.06);
  });
});

/** Each row's log q under the Gaussian refitted without it, the slow way. */
function refitted(x: Matrix, scale: number, shrink: Shrinkage, units?: number[]): Float64Array {
  const d = x.cols;
  return Float64Array.from({ length: x.rows }, (_, i) => {
    const rest = matrix(x.rows - 1, d, (r, j) => x.data[(r < i ? r : r + 1) * d + j]);
    return GaussianNoise.fit(rest, scale, 0, shrink, units).logDensity(x.data.subarray(i * d, (i + 1) * d), 1)[0];
  });
}

describe('GaussianNoise.logDensityPath', () => {
  it.each([
    ['a ridge, 6 features', 6, 0.01 as Shrinkage, 1],
    ['Ledoit-Wolf at twice the scale, 300 features', 300, 'ledoitWolf' as Shrinkage, 2],
  ])('gives logDensity of every row of a walk that moves one column a step (%s)', (_name, d, shrink, scale) => {
    const rng = createRng(11);
    const x = matrix(Math.max(40, d / 2), d, (i, j) => rng.normal() * (1 + (j % 3)) + (i % 4) * (j % 2));
    const q = GaussianNoise.fit(x, scale, 0, shrink);
    // A walk: rows taken in full (-2), then one column moved a row (or none, -1), again and again.
    const n = 3 * d;
    const rows = new Float64Array(n * d);
    const col = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const fresh = i % d === 0;
      col[i] = fresh ? -2 : i % 7 === 0 ? -1 : rng.int(d);
      for (let j = 0; j < d; j++) rows[i * d + j] = fresh ? rng.normal() * 3 : rows[(i - 1) * d + j];
      if (col[i] >= 0) rows[i * d + col[i]] += rng.normal() * 4;
    }
    const exact = q.logDensity(rows, n);
    const walked = q.logDensityPath(rows, n, col);
    for (let i = 0; i < n; i++) expect(Math.abs(walked[i] - exact[i])).toBeLessThan(1e-7 * Math.max(1, Math.abs(exact[i])));
  });
});

describe('GaussianNoise.leaveOneOutChange', () => {
  it.each([
    [1, 1],
    [2.5, 1],
  ])('equals refitting without each row, unregularised (scale %s)', (scale) => {
    const rng = createRng(5);
    const x = matrix(30, 4, (i, j) => rng.normal() * (j + 1) + (j === 2 ? 0.5 * i : 0));
    const q = GaussianNoise.fit(x, scale, 0, 0);
    const own = q.logDensity(x.data, x.rows);
    const left = q.leaveOneOutChange(x.data, x.rows, x.rows).map((c, i) => own[i] + c);
    const want = refitted(x, scale, 0);
    for (let i = 0; i < x.rows; i++) expect(left[i]).toBeCloseTo(want[i], 6);
  });

  it('takes the ridge into account when features outnumber rows, and lies far below the in-sample log q', () => {
    const rng = createRng(6);
    const x = matrix(60, 150, () => rng.normal());
    const q = GaussianNoise.fit(x, 1, 0, 0.01);
    const own = q.logDensity(x.data, x.rows);
    const left = q.leaveOneOutChange(x.data, x.rows, x.rows).map((c, i) => own[i] + c);
    const want = refitted(x, 1, 0.01);
    for (let i = 0; i < x.rows; i++) {
      expect(Math.abs(left[i] - want[i])).toBeLessThan(0.01 * Math.abs(want[i]));
      // 150 features and 59 other rows: a row is far from the others' Gaussian, much farther than from its own.
      expect(left[i]).toBeLessThan(own[i] - 50);
    }
  });
});

describe('GaussianNoise with Ledoit-Wolf shrinkage', () => {
  // 40 rows of 150 features in units 1, 2 or 3 apart, a third of them never varying (as ResNet
  // units no normal image fires): the shrinkage's isotropic target is isotropic in those units.
  const units = Array.from({ length: 150 }, (_, j) => 1 + (j % 3));
  const wide = (seed: number): Matrix => {
    const rng = createRng(seed);
    return matrix(40, 150, (_, j) => (j % 3 === 0 ? 0 : (rng.normal() + 0.3 * (j % 7)) / units[j]));
  };

  // 200 rows of 150 features, robust-scaled as the encoding leaves them, whose raw units are 1e4 for
  // the first and 0.01 for the rest: isotropic in raw units, the first would lend every other
  // feature a variance of 1e4^2 / 150, in which a 5-sd move is nothing.
  const mixedUnits = Array.from({ length: 150 }, (_, j) => (j === 0 ? 1e4 : 0.01));
  const mixed = (seed: number): Matrix => {
    const rng = createRng(seed);
    return matrix(200, 150, () => rng.normal());
  };

  // The update holds the shrinkage's weight λ fixed; refitting re-estimates it, which moves the
  // change by up to a tenth of a nat where λ is large (many independent features).
  it.each([
    ['shared units, a third never varying', wide(7), units],
    ['columns in different units', mixed(7), mixedUnits],
  ])('leaves one row out as refitting without it does (%s): the change within 1%% and 0.1 nats', (_, x, u) => {
    const q = GaussianNoise.fit(x, 1, 0, 'ledoitWolf', u);
    const own = q.logDensity(x.data, x.rows);
    const change = q.leaveOneOutChange(x.data, x.rows, x.rows);
    const want = refitted(x, 1, 'ledoitWolf', u);
    for (let i = 0; i < x.rows; i++) {
      expect(Math.abs(change[i] - (want[i] - own[i]))).toBeLessThan(0.01 * Math.abs(want[i] - own[i]) + 0.1);
      expect(change[i]).toBeLessThan(0);
    }
  });

  it('keeps each feature its own scale when the columns are measured in different units', () => {
    const x = mixed(8);
    const probe = new Float64Array(150);
    const moved = Float64Array.from(probe, (v, j) => (j === 1 ? 5 : v));
    const cost = (g: GaussianNoise): number => g.logDensity(probe, 1)[0] - g.logDensity(moved, 1)[0];
    expect(cost(GaussianNoise.fit(x, 1, 0, 'auto', mixedUnits))).toBeGreaterThan(5);
    expect(cost(GaussianNoise.fit(x, 1, 0, 'ledoitWolf'))).toBeGreaterThan(5);
  });

  it('gives a feature that never varied the typical variance, not a sliver: a value there costs what it costs elsewhere', () => {
    const x = wide(8);
    const q = GaussianNoise.fit(x, 1, 0, 'ledoitWolf', units);
    const ridge = GaussianNoise.fit(x, 1, 0, 0.01, units);
    const at = (g: GaussianNoise, j: number): number => {
      const row = Float64Array.from({ length: 150 }, (_, k) => (k % 3 === 0 ? 0 : 0.3 * (k % 7) / units[k]));
      const base = g.logDensity(row, 1)[0];
      row[j] += 1 / units[j];
      return base - g.logDensity(row, 1)[0];
    };
    // One raw unit in a feature that never varied (0) against one that did (1).
    expect(at(q, 0)).toBeLessThan(5 * at(q, 1));
    expect(at(ridge, 0)).toBeGreaterThan(1000 * at(ridge, 1));
  });

  it('"auto" is the 1% ridge up to 128 features and Ledoit-Wolf beyond', () => {
    const x = wide(9);
    const narrow: Matrix = { rows: x.rows, cols: 100, data: Float64Array.from({ length: x.rows * 100 }, (_, k) => x.data[Math.floor(k / 100) * 150 + (k % 100)]) };
    const probe = Float64Array.from({ length: 150 }, (_, j) => 0.5 / units[j]);
    expect(GaussianNoise.fit(x, 1, 0, 'auto', units).logDensity(probe, 1)[0]).toBe(GaussianNoise.fit(x, 1, 0, 'ledoitWolf', units).logDensity(probe, 1)[0]);
    const u100 = units.slice(0, 100);
    expect(GaussianNoise.fit(narrow, 1, 0, 'auto', u100).logDensity(probe, 1)[0]).toBe(GaussianNoise.fit(narrow, 1, 0, 0.01, u100).logDensity(probe, 1)[0]);
  });
});

describe('GmmNoise', () => {
  const rng = createRng(3);
  const twoClusters = matrix(1500, 2, (i) => (i % 3 === 0 ? 6 : -2) + 0.5 * rng.normal());

  it('when data has two separated clusters, BIC chooses two components with the right weights', () => {
    const q = GmmNoise.fit(twoClusters, createRng(4));
    expect(q.components).toHaveLength(2);
    const small = Math.min(...q.weights);
    expect(small).toBeCloseTo(1 / 3, 1);
  });

  it('logDensity equals log of the weighted sum of its component densities', () => {
    const q = GmmNoise.fit(twoClusters, createRng(4));
    const x = Float64Array.from([0, 0, 6, 6, -2, -2]);
    const got = q.logDensity(x, 3);
    const parts = q.components.map((c) => c.logDensity(x, 3));
    for (let i = 0; i < 3; i++) {
      const sum = q.weights.reduce((s, w, k) => s + w * Math.exp(parts[k][i]), 0);
      expect(got[i]).toBeCloseTo(Math.log(sum), 8);
    }
  });

  it('logDensity agrees with a histogram of its samples', () => {
    const r = createRng(5);
    const x = matrix(3000, 1, (i) => (i % 2 ? 3 : -1) + 0.7 * r.normal());
    expect(histogramError(GmmNoise.fit(x, createRng(6), { components: 2 }), -3, 5)).toBeLessThan(0.06);
  });
});

describe('UniformNoise', () => {
  it('is -log(volume) inside the expanded box and -Infinity outside', () => {
    const x = matrix(2, 2, (i, j) => (i === 0 ? 0 : j === 0 ? 10 : 2));
    const q = UniformNoise.fit(x, 0.1);
    // Box: [-1, 11] x [-0.2, 2.2] -> volume 12 * 2.4.
    const got = q.logDensity(Float64Array.from([5, 1, 11.5, 1]), 2);
    expect(got[0]).toBeCloseTo(-Math.log(12 * 2.4), 10);
    expect(got[1]).toBe(-Infinity);
    const s = q.sample(1000, createRng(1));
    for (let i = 0; i < 1000; i++) {
      expect(s[i * 2]).toBeGreaterThanOrEqual(-1);
      expect(s[i * 2]).toBeLessThanOrEqual(11);
    }
  });

  it('logDensity agrees with a histogram of its samples', () => {
    const q = UniformNoise.fit(matrix(2, 1, (i) => i * 4), 0.25);
    expect(histogramError(q, -1, 5)).toBeLessThan(0.06);
  });
});

describe('MarginalsNoise', () => {
  it('logDensity agrees with a histogram of its samples', () => {
    const r = createRng(8);
    const x = matrix(4000, 1, (i) => (i % 4 === 0 ? 2 * r.normal() + 4 : r.normal()));
    expect(histogramError(MarginalsNoise.fit(x, createRng(9)), -3, 8)).toBeLessThan(0.08);
  });

  it('logDensity equals the full kernel sum (computed here term by term) within 1e-5 nats, in the bulk and far out', () => {
    const r = createRng(13);
    // A normal, a discrete and a heavy-tailed feature (its values span more than one table holds).
    const d = 3;
    const x = matrix(3000, d, (_, j) => (j === 0 ? r.normal() : j === 1 ? Math.round(5 * r.uniform()) : r.normal() / (1e-5 + r.uniform() ** 3)));
    const q = MarginalsNoise.fit(x, createRng(14));
    const p = q.toJSON() as { values: number[][]; bandwidths: number[] };
    const third = p.values[2];
    expect((Math.max(...third) - Math.min(...third)) / (p.bandwidths[2] / 32)).toBeGreaterThan(1 << 15);
    // Fixed probes, then a dense sweep over the bulk, the edges of the scoring tables and beyond.
    const probes = [0, 0, 0, 0.3, 2.5, 40, -4, 7, -300, 50, -50, 1e4];
    for (let i = 0; i < 3000; i++) probes.push(-6 + 12 * r.uniform(), -3 + 11 * r.uniform(), -200 + 400 * r.uniform());
    const n = probes.length / d;
    const got = q.logDensity(Float64Array.from(probes), n);
    for (let i = 0; i < n; i++) {
      let expected = 0;
      for (let j = 0; j < d; j++) {
        const v = probes[i * d + j];
        const h = p.bandwidths[j];
        const terms = p.values[j].map((c) => -0.5 * ((v - c) / h) ** 2);
        const m = Math.max(...terms);
        expected += m + Math.log(terms.reduce((a, t) => a + Math.exp(t - m), 0) / terms.length) - Math.log(h) - 0.5 * Math.log(2 * Math.PI);
      }
      expect(Math.abs(got[i] - expected)).toBeLessThan(1e-5);
    }
  });

  it('widens the bandwidth of a mostly-zero feature with a long tail: held-out tail values lose far fewer nats', () => {
    const r = createRng(15);
    // Column 0 normal; column 1 is 0 in 60% of rows, else spread over a long tail (1 to e^8).
    const tail = (): number => Math.exp(8 * r.uniform());
    const x = matrix(1000, 2, (i, j) => (j === 0 ? r.normal() : i % 5 < 3 ? 0 : tail()));
    const q = MarginalsNoise.fit(x, createRng(16));
    const silverman = (j: number): number => {
      const col = Float64Array.from({ length: x.rows }, (_, i) => x.data[i * 2 + j]).sort();
      const mean = col.reduce((a, v) => a + v, 0) / col.length;
      const sd = Math.sqrt(col.reduce((a, v) => a + (v - mean) ** 2, 0) / col.length);
      const iqr = (quantileSorted(col, 0.75) - quantileSorted(col, 0.25)) / 1.349;
      return 0.9 * Math.min(sd, iqr) * Math.pow(x.rows, -0.2);
    };
    // The normal column keeps Silverman's bandwidth; the spiky one gets a wider one.
    expect(q.bandwidths[0]).toBeCloseTo(silverman(0), 10);
    expect(q.bandwidths[1]).toBeGreaterThan(2 * silverman(1));
    // Fresh tail values fall between the kept ones: under Silverman's bandwidth they cost on average
    // some 90 nats of log q, under the widened one under 20.
    const narrow = new MarginalsNoise(q.values, Float64Array.from([q.bandwidths[0], silverman(1)]));
    const held = matrix(500, 2, (_, j) => (j === 0 ? 0 : tail()));
    const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    const wide = mean(q.logDensity(held.data, held.rows));
    const tight = mean(narrow.logDensity(held.data, held.rows));
    expect(tight).toBeLessThan(-50);
    expect(wide).toBeGreaterThan(-25);
  });

  it('widenedBandwidth keeps Silverman\'s bandwidth on a discrete feature and on too few values', () => {
    const counts = Float64Array.from({ length: 600 }, (_, i) => i % 3).sort();
    expect(widenedBandwidth(counts, 0.2)).toBe(0.2);
    expect(widenedBandwidth(Float64Array.from([0, 1]), 0.2)).toBe(0.2);
    expect(widenedBandwidth(Float64Array.from([4, 4, 4, 4]), 0.2)).toBe(0.2);
  });

  it('resamples each feature independently: samples of correlated data lose the correlation', () => {
    const r = createRng(10);
    const x = matrix(4000, 2, () => 0);
    for (let i = 0; i < 4000; i++) {
      const v = r.normal();
      x.data[i * 2] = v;
      x.data[i * 2 + 1] = v;
    }
    const s = MarginalsNoise.fit(x, createRng(11)).sample(20_000, createRng(12));
    let c = 0;
    for (let i = 0; i < 20_000; i++) c += s[i * 2] * s[i * 2 + 1];
    expect(Math.abs(c / 20_000)).toBeLessThan(0.05);
  });
});

describe('KdeNoise', () => {
  it('logDensity agrees with a histogram of its samples', () => {
    const r = createRng(8);
    // Its kernels are narrower than the bins: the density is averaged over each bin.
    expect(histogramError(KdeNoise.fit(matrix(400, 1, () => r.normal()), createRng(9), 10, 0.5), -2, 2, 7, 25)).toBeLessThan(0.08);
  });

  it('logDensity is the sum of its kernels, each as wide as a share of its centre\'s k-th neighbour distance', () => {
    // Centres 0, 1, 3 (standard deviation 1.247): k = 1 neighbour distances 1, 1, 2 (standardised: / sd).
    const x = matrix(3, 1, (i) => [0, 1, 3][i]);
    const q = KdeNoise.fit(x, createRng(1), 1, 0.5);
    const mean = 4 / 3;
    const sd = Math.sqrt(((0 - mean) ** 2 + (1 - mean) ** 2 + (3 - mean) ** 2) / 3);
    const widths = [0.5, 0.5, 1]; // in the data's units: 0.5 of 1, 1, 2
    for (const probe of [-1, 0.5, 2, 10]) {
      const want = Math.log(widths.reduce((s, h, c) => s + Math.exp(-0.5 * ((probe - [0, 1, 3][c]) / h) ** 2) / (h * Math.sqrt(2 * Math.PI)), 0) / 3);
      expect(q.logDensity(Float64Array.of(probe), 1)[0]).toBeCloseTo(want, 8);
    }
    expect([...q.scale]).toEqual([sd]);
  });

  it('scores a batch row by row as the sum of its kernels, whatever the batch size (7 rows, 5 features, one far out)', () => {
    const r = createRng(12);
    const d = 5;
    const q = KdeNoise.fit(matrix(200, d, () => r.normal()), createRng(13), 10, 0.3);
    const rows = Float64Array.from({ length: 7 * d }, (_, i) => (i < d ? 30 : r.normal()));
    const direct = (row: Float64Array): number => {
      const terms = Array.from(q.widths, (h, c) => {
        let s = 0;
        let logJacobian = 0;
        for (let j = 0; j < d; j++) {
          s += ((row[j] - q.shift[j]) / q.scale[j] - q.centres[c * d + j]) ** 2;
          logJacobian += Math.log(q.scale[j]);
        }
        return -s / (2 * h * h) - d * Math.log(h) - (d / 2) * Math.log(2 * Math.PI) - logJacobian - Math.log(q.widths.length);
      });
      const top = Math.max(...terms);
      return top + Math.log(terms.reduce((a, t) => a + Math.exp(t - top), 0));
    };
    const batch = q.logDensity(rows, 7);
    for (let i = 0; i < 7; i++) {
      const row = rows.subarray(i * d, (i + 1) * d);
      expect(batch[i]).toBeCloseTo(direct(row), 6);
      expect(q.logDensity(Float64Array.from(row), 1)[0]).toBe(batch[i]);
    }
    expect(batch[0]).toBeLessThan(Math.min(...batch.subarray(1)) - 100);
  });

  it('keeps distances exact where values are large beside their spread (a dense cluster at 1,000 and a few rows at a million)', () => {
    const r = createRng(14);
    const x = matrix(600, 2, (i) => (i < 597 ? 1000 + 1e-3 * r.normal() : 1e6));
    const q = KdeNoise.fit(x, createRng(15), 10, 0.3);
    const probes = Float64Array.from(x.data.subarray(0, 20 * 2));
    const got = q.logDensity(probes, 20);
    for (let i = 0; i < 20; i++) {
      const terms = Array.from(q.widths, (h, c) => {
        let s = 0;
        let logJacobian = 0;
        for (let j = 0; j < 2; j++) {
          s += ((probes[i * 2 + j] - q.shift[j]) / q.scale[j] - q.centres[c * 2 + j]) ** 2;
          logJacobian += Math.log(q.scale[j]);
        }
        return -s / (2 * h * h) - 2 * Math.log(h) - Math.log(2 * Math.PI) - logJacobian - Math.log(q.widths.length);
      });
      const top = Math.max(...terms);
      expect(got[i]).toBeCloseTo(top + Math.log(terms.reduce((a, t) => a + Math.exp(t - top), 0)), 6);
    }
  });

  it('a small cluster far from a large one keeps its own mode: the gap between them is less likely than either', () => {
    const r = createRng(4);
    const x = matrix(600, 2, (i) => (i < 500 ? 0 : 6) + 0.5 * r.normal());
    const q = KdeNoise.fit(x, createRng(5), 10, 0.5);
    const g = GaussianNoise.fit(x);
    const [big, gap, small] = q.logDensity(Float64Array.of(0, 0, 3, 3, 6, 6), 3);
    expect(gap).toBeLessThan(small - 5);
    expect(gap).toBeLessThan(big - 5);
    // The Gaussian fitted to both clusters has its mode in the gap.
    const [gBig, gGap, gSmall] = g.logDensity(Float64Array.of(0, 0, 3, 3, 6, 6), 3);
    expect(gGap).toBeGreaterThan(gSmall);
    expect(gGap).toBeGreaterThan(gBig - 1);
  });

  it('with neighbourShare, a group of fewer rows than that share of the centres does not read as a mode of its own, a larger one does', () => {
    const r = createRng(16);
    // 570 rows around 0, a tight group of 12 (2%) at 6 and a tight group of 60 (10%) at -6.
    const x = matrix(642, 2, (i) => (i < 570 ? 0 : i < 582 ? 6 : -6) + (i < 570 ? 1 : 0.05) * r.normal());
    const plain = KdeNoise.fit(x, createRng(17), 10, 0.15);
    const shared = KdeNoise.fit(x, createRng(17), 10, 0.15, 0.05);
    const probes = Float64Array.of(6, 6, -6, -6, 0, 0);
    const [smallPlain, largePlain] = plain.logDensity(probes, 3);
    const [smallShared, largeShared, bulkShared] = shared.logDensity(probes, 3);
    // k = 10: both groups are modes, denser than the bulk.
    expect(smallPlain).toBeGreaterThan(bulkShared);
    // k = 5% of 642 = 32: the 12 rows' kernels reach out of their group, the 60 rows' do not.
    expect(smallShared).toBeLessThan(smallPlain - 3);
    expect(largeShared).toBeGreaterThan(bulkShared);
    expect(largeShared).toBeGreaterThan(largePlain - 1);
    expect(() => resolveTrainingConfig({ noise: { type: 'kde', neighbourShare: 0.6 } })).toThrow(/neighbourShare/);
  });

  it('kernel densities on the same centres score together exactly as each alone (the distances computed once)', () => {
    const r = createRng(18);
    const x = matrix(1500, 4, () => r.normal());
    const smooth = KdeNoise.fit(x, createRng(19), 10, 0.3);
    const sharp = KdeNoise.fit(x, createRng(19), 10, 0.15, 0.05);
    const other = KdeNoise.fit(x, createRng(20), 10, 0.3);
    expect(sharp.sharesCentresWith(smooth)).toBe(true);
    expect(other.sharesCentresWith(smooth)).toBe(false);
    const probes = Float64Array.from({ length: 9 * 4 }, (_, i) => (i < 4 ? 40 : r.normal()));
    const [a, b] = kernelLogDensities([smooth, sharp], probes, 9);
    expect(a).toEqual(smooth.logDensity(probes, 9));
    expect(b).toEqual(sharp.logDensity(probes, 9));
    expect(a).not.toEqual(b);
  });

  it('keeps a finite density when most rows repeat one value, and at most MAX_CENTRES kernels', () => {
    const r = createRng(6);
    const x = matrix(3000, 2, (i) => (i % 3 === 0 ? r.normal() : 1));
    const q = KdeNoise.fit(x, createRng(7), 10, 0.5);
    expect(q.widths.length).toBe(1024);
    expect(Math.min(...q.widths)).toBeGreaterThan(0);
    const ld = q.logDensity(Float64Array.of(1, 1, 0, 0, 50, 50), 3);
    for (const v of ld) expect(Number.isFinite(v)).toBe(true);
    expect(ld[0]).toBeGreaterThan(ld[1]);
  });
});

describe('MixtureNoise', () => {
  it('logDensity is the log of the weighted component densities and matches a histogram', () => {
    const a = new GaussianNoise(1, Float64Array.from([0]), Float64Array.from([1]));
    const b = new GaussianNoise(1, Float64Array.from([0]), Float64Array.from([3]));
    const q = new MixtureNoise(Float64Array.from([0.3, 0.7]), [a, b]);
    const x = Float64Array.from([0.2]);
    expect(q.logDensity(x, 1)[0]).toBeCloseTo(Math.log(0.3 * Math.exp(a.logDensity(x, 1)[0]) + 0.7 * Math.exp(b.logDensity(x, 1)[0])), 10);
    expect(histogramError(q, -5, 5)).toBeLessThan(0.06);
  });

  it('the harmonic mean is 1 / sum_k (w_k / q_k), near the smaller component far out, and never above the mixture', () => {
    const a = new GaussianNoise(1, Float64Array.from([0]), Float64Array.from([1]));
    const b = new GaussianNoise(1, Float64Array.from([0]), Float64Array.from([3]));
    const q = new MixtureNoise(Float64Array.from([0.3, 0.7]), [a, b]);
    const x = Float64Array.from([0.2, 6]);
    const { density, harmonic } = q.logDensityAndHarmonic(x, 2);
    const [la, lb] = [a.logDensity(x, 2), b.logDensity(x, 2)];
    for (let i = 0; i < 2; i++) {
      expect(density[i]).toBeCloseTo(q.logDensity(x, 2)[i], 12);
      expect(harmonic[i]).toBeCloseTo(-Math.log(0.3 / Math.exp(la[i]) + 0.7 / Math.exp(lb[i])), 10);
      expect(harmonic[i]).toBeLessThanOrEqual(density[i]);
    }
    // At x = 6 the narrow component is e^-16 below the broad one: the harmonic mean follows it.
    expect(harmonic[1]).toBeCloseTo(la[1] - Math.log(0.3), 5);
  });

  it('outside a uniform component\'s box, the harmonic mean is 0 (log -Infinity) while the mixture is not', () => {
    const box = UniformNoise.fit(matrix(2, 1, (i) => i), 0);
    const q = new MixtureNoise(Float64Array.from([0.5, 0.5]), [box, new GaussianNoise(1, Float64Array.from([0]), Float64Array.from([1]))]);
    const { density, harmonic } = q.logDensityAndHarmonic(Float64Array.from([3]), 1);
    expect(Number.isFinite(density[0])).toBe(true);
    expect(harmonic[0]).toBe(-Infinity);
  });

  it('with experts, the harmonic mean takes each component as fitted (a Gaussian at scale 1) while log q stays the noise', () => {
    const r = createRng(17);
    const x = matrix(2000, 1, () => r.normal());
    const wide = GaussianNoise.fit(x, 2);
    const m = MarginalsNoise.fit(x, createRng(18));
    const q = new MixtureNoise(Float64Array.from([0.5, 0.5]), [m, wide]);
    const probes = Float64Array.from([0, 1.5, -4]);
    const plain = q.logDensityAndHarmonic(probes, 3);
    const fitted = q.logDensityAndHarmonic(probes, 3, true);
    const [lm, lg] = [m.logDensity(probes, 3), wide.expert().logDensity(probes, 3)];
    for (let i = 0; i < 3; i++) {
      expect(fitted.density[i]).toBe(plain.density[i]);
      expect(fitted.harmonic[i]).toBeCloseTo(-Math.log(0.5 / Math.exp(lm[i]) + 0.5 / Math.exp(lg[i])), 8);
    }
    // The fitted Gaussian is narrower than the widened one: off-centre records are less likely under it.
    for (let i = 1; i < 3; i++) expect(fitted.harmonic[i]).toBeLessThan(plain.harmonic[i]);
    const single = noiseLogDensities(wide, probes, 3, true);
    expect([...single.density]).toEqual([...wide.logDensity(probes, 3)]);
    const expert = wide.expert().logDensity(probes, 3);
    for (let i = 0; i < 3; i++) expect(single.harmonic[i]).toBeCloseTo(expert[i], 10);
  });

  it('noiseLogDensities of a distribution that is not a mixture gives log q as both', () => {
    const a = new GaussianNoise(1, Float64Array.from([1]), Float64Array.from([2]));
    const x = Float64Array.from([0, 3]);
    const { density, harmonic } = noiseLogDensities(a, x, 2);
    expect([...harmonic]).toEqual([...a.logDensity(x, 2)]);
    expect([...density]).toEqual([...harmonic]);
  });
});

describe('fitNoise and restoreNoise', () => {
  it.each([
    [{ type: 'gaussian' as const, scale: 2 }],
    [{ type: 'gmm' as const, maxComponents: 3 }],
    [{ type: 'uniform' as const, margin: 0.5 }],
    [{ type: 'marginals' as const }],
    [{ type: 'kde' as const, neighbours: 5 }],
    [{ type: 'mixture' as const, components: [{ weight: 1, noise: { type: 'marginals' as const } }, { weight: 1, noise: { type: 'gaussian' as const, scale: 3 } }] }],
  ])('%j: same seed gives the same samples, and the restored copy the same densities', (spec) => {
    const r = createRng(20);
    const x = matrix(500, 3, () => r.normal());
    const q = fitNoise(spec, x, createRng(21));
    const a = q.sample(50, createRng(22));
    expect(q.sample(50, createRng(22))).toEqual(a);
    const restored = restoreNoise(JSON.parse(JSON.stringify(q.toJSON())));
    expect(restored.logDensity(a, 50)).toEqual(q.logDensity(a, 50));
  });
});
