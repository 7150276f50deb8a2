import * as tf from '@tensorflow/tfjs';
import { Detector, explain, initBackend, SCORE_FLOOR, train, type TrainResult } from '../../../src/nce';
import { encode } from '../../../src/nce/encoding';
import { DiscreteNoise, type MixtureNoise, restoreNoise } from '../../../src/nce/noise';
import { createRng } from '../../../src/nce/random';
import { KERNEL_PARTNER_NOISES } from '../../../src/nce/config';

/** Mixed records: two numeric features (one sometimes missing) and a categorical one. */
function mixedRecords(n: number, seed: number): Record<string, number | string | null>[] {
  const rng = createRng(seed);
  const colours = ['red', 'green', 'blue'];
  return Array.from({ length: n }, () => {
    const a = rng.normal();
    return {
      amount: 100 + 10 * a,
      ratio: rng.uniform() < 0.1 ? null : a + 0.3 * rng.normal(),
      colour: colours[rng.int(colours.length)],
    };
  });
}

/** The earlier default noise, scored as a product of experts (still supported for models that chose it). */
const POE_CONFIG = {
  epochs: 8,
  noise: { type: 'mixture', components: [{ weight: 0.5, noise: { type: 'marginals' } }, { weight: 0.5, noise: { type: 'gaussian', scale: 2 } }] },
  scoreKind: 'productOfExperts',
};

let result: TrainResult;
let detector: Detector;
let poeResult: TrainResult;
let poeDetector: Detector;

beforeAll(async () => {
  await initBackend();
  result = await train(mixedRecords(600, 1), { epochs: 8 });
  detector = new Detector(result.state);
  poeResult = await train(mixedRecords(600, 1), POE_CONFIG);
  poeDetector = new Detector(poeResult.state);
});

afterAll(() => {
  detector.dispose();
  poeDetector.dispose();
});

describe('Detector.score', () => {
  it('scores mixed numeric, categorical and missing values, one result per record in order', () => {
    const records = mixedRecords(5, 2);
    const results = detector.score(records);
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(Number.isFinite(r.score) && Number.isFinite(r.logRatio)).toBe(true);
      expect(r.percentile).toBeGreaterThanOrEqual(0);
      expect(r.percentile).toBeLessThanOrEqual(1);
      expect(r.ood).toBe(r.score < result.state.calibration.threshold);
    }
    expect(detector.score([records[3]])[0]).toEqual(results[3]);
  });

  it('by default, score is logDensity, and logDensity is logRatio plus log q of the fitted noise (numeric and discrete parts)', async () => {
    const records = mixedRecords(20, 2);
    const alone = await train(mixedRecords(600, 1), { epochs: 8, kernelPartner: false });
    const d = new Detector(alone.state);
    try {
      const results = d.score(records);
      expect(alone.state.scoreKind).toBe('logDensity');
      const e = encode(alone.state.schema, records);
      const numeric = restoreNoise(alone.state.noise.fitted).logDensity(e.numeric, e.n);
      const discrete = DiscreteNoise.fromJSON(alone.state.noise.discrete).logProb(e.codes, e.n);
      results.forEach((r, i) => {
        expect(r.score).toBe(r.logDensity);
        expect(r.logDensity as number).toBeCloseTo(r.logRatio + numeric[i] + discrete[i], 6);
      });
    } finally {
      d.dispose();
    }
  });

  it('with the kernel partners (the default on small data), logRatio, log q and logDensity are the means over every model\'s, and logDensity = logRatio + log q still', () => {
    const records = mixedRecords(20, 2);
    const partners = result.state.partners ?? [];
    expect(partners.map((p) => p.noise.spec)).toEqual(KERNEL_PARTNER_NOISES);
    // Each model alone, as a detector of its own (a partner keeps the main model's discrete noise).
    const alone = [
      new Detector({ ...result.state, partners: undefined }),
      ...partners.map((p) => new Detector({ ...result.state, noise: { ...result.state.noise, fitted: p.noise.fitted }, architecture: p.architecture, weights: p.weights, partners: undefined })),
    ];
    try {
      const e = encode(result.state.schema, records);
      const all = detector.evaluate(e);
      const each = alone.map((d) => d.evaluate(e));
      const discrete = DiscreteNoise.fromJSON(result.state.noise.discrete).logProb(e.codes, e.n);
      const qs = [result.state.noise.fitted, ...partners.map((p) => p.noise.fitted)].map((f) => restoreNoise(f).logDensity(e.numeric, e.n));
      const k = alone.length;
      const mean = (xs: Float64Array[], i: number): number => xs.reduce((s, x) => s + x[i], 0) / k;
      for (let i = 0; i < e.n; i++) {
        expect(all.logRatio[i]).toBeCloseTo(mean(each.map((r) => r.logRatio), i), 5);
        expect(all.logDensity[i]).toBeCloseTo(mean(each.map((r) => r.logDensity), i), 5);
        expect(all.logDensity[i]).toBeCloseTo(all.logRatio[i] + mean(qs, i) + discrete[i], 5);
        expect(all.score[i]).toBe(all.logDensity[i]);
      }
      // The models do disagree: the mean is not one of them several times.
      for (const other of each.slice(1)) expect(Array.from(each[0].logDensity).some((v, i) => Math.abs(v - other.logDensity[i]) > 0.1)).toBe(true);
    } finally {
      for (const d of alone) d.dispose();
    }
  });

  it('with scoreKind productOfExperts, score is logDensity plus the log weighted harmonic mean of the noise components as fitted (Gaussian at scale 1)', () => {
    const records = mixedRecords(5, 2);
    const results = poeDetector.score(records);
    const noise = restoreNoise(poeResult.state.noise.fitted) as MixtureNoise;
    const e = encode(poeResult.state.schema, records);
    const parts = noise.components.map((c) => (c.expert?.() ?? c).logDensity(e.numeric, e.n));
    expect(poeResult.state.scoreKind).toBe('productOfExperts');
    expect(poeResult.state.noise.experts).toBe('fitted');
    expect(noise.components.some((c) => c.expert && c.expert() !== c)).toBe(true);
    const cap = poeResult.state.ratioCap as number;
    results.forEach((r, i) => {
      const harmonic = -Math.log(parts.reduce((s, p, k) => s + noise.weights[k] * Math.exp(-p[i]), 0));
      expect(r.score).toBeCloseTo((r.logDensity as number) + harmonic + Math.min(0, cap - r.logRatio), 6);
    });
  });

  it('counts logRatio up to ratioCap, the median over held-out reference records', () => {
    const cap = poeResult.state.ratioCap as number;
    expect(Number.isFinite(cap)).toBe(true);
    const like = poeDetector.score(mixedRecords(400, 7));
    const above = like.filter((r) => r.logRatio > cap).length / like.length;
    expect(above).toBeGreaterThan(0.3);
    expect(above).toBeLessThan(0.7);
    // Uncapped, the records above the cap would score higher by exactly their excess.
    const { ratioCap: _, ...uncappedState } = poeResult.state;
    const uncapped = new Detector(uncappedState);
    try {
      const records = mixedRecords(50, 8);
      const capped = poeDetector.score(records);
      uncapped.score(records).forEach((u, i) => expect(u.score - capped[i].score).toBeCloseTo(Math.max(0, u.logRatio - cap), 6));
    } finally {
      uncapped.dispose();
    }
  });

  it('a model state from before fitted experts and the ratio cap (older artifacts) keeps scoring with the widened components it was calibrated on', () => {
    const records = mixedRecords(5, 2);
    const { experts: _, ...noiseState } = poeResult.state.noise;
    const { ratioCap: _cap, ...before } = poeResult.state;
    const old = new Detector({ ...before, noise: noiseState });
    try {
      const noise = restoreNoise(poeResult.state.noise.fitted) as MixtureNoise;
      const e = encode(poeResult.state.schema, records);
      const parts = noise.components.map((c) => c.logDensity(e.numeric, e.n));
      old.score(records).forEach((r, i) => {
        const harmonic = -Math.log(parts.reduce((s, p, k) => s + noise.weights[k] * Math.exp(-p[i]), 0));
        expect(r.score).toBeCloseTo((r.logDensity as number) + harmonic, 6);
      });
    } finally {
      old.dispose();
    }
  });

  it.each(['logDensity', 'logRatio'] as const)('with scoreKind %s, score is that quantity', (kind) => {
    const other = new Detector({ ...result.state, scoreKind: kind });
    try {
      for (const r of other.score(mixedRecords(5, 4))) expect(r.score).toBe(kind === 'logDensity' ? r.logDensity : r.logRatio);
    } finally {
      other.dispose();
    }
  });

  it('when a record is far from the training data, it scores lower and is flagged', () => {
    const [typical, far] = detector.score([
      { amount: 100, ratio: 0, colour: 'red' },
      { amount: 400, ratio: -9, colour: 'red' },
    ]);
    expect(far.score).toBeLessThan(typical.score);
    expect(far.ood).toBe(true);
    expect(typical.ood).toBe(false);
  });

  it('any finite value, however extreme, gives finite scores at the floor and is flagged, on both forward paths', () => {
    const extreme = [1e10, 2.5e38, 1e300, -1.7e308, Number.MAX_VALUE].map((amount) => ({ amount, ratio: 0, colour: 'red' }));
    const batch = Array.from({ length: detector.hostForwardRows + 1 }, (_, i) => extreme[i % extreme.length] as (typeof extreme)[number]);
    for (const results of [detector.score(extreme), detector.score(batch)]) {
      for (const r of results) {
        expect(Number.isFinite(r.score) && Number.isFinite(r.logRatio)).toBe(true);
        expect(r.score).toBe(SCORE_FLOOR);
        expect(r.ood).toBe(true);
      }
    }
  });

  it('an unseen category and a missing value are normal inputs', () => {
    const [r] = detector.score([{ amount: 101, ratio: null, colour: 'purple' }]);
    expect(Number.isFinite(r.score)).toBe(true);
  });

  it.each([
    [{ amount: 'lots', ratio: 0, colour: 'red' }, 'amount'],
    [{ amount: Infinity, ratio: 0, colour: 'red' }, 'amount'],
    [{ amount: 100, colour: 'red' }, 'ratio'],
    [{ amount: 100, ratio: 0, colour: { x: 1 } }, 'colour'],
  ])('when record 1 is %j, throws INVALID_RECORD naming record 1 and field %s', (bad, field) => {
    const good = { amount: 100, ratio: 0, colour: 'red' };
    expect(() => detector.score([good, bad as never])).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', record: 1, field }));
  });

  it('tf.memory().numTensors does not grow across 1,000 repeated scoring calls, on the tfjs and the host path', () => {
    const large = mixedRecords(detector.hostForwardRows + 36, 3);
    const small = large.slice(0, Math.min(4, detector.hostForwardRows));
    detector.score(large);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) detector.score(i % 2 ? large : small);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a record scores the same alone (host forward pass) as in a large batch (tfjs) to 1e-4 nats', () => {
    const large = mixedRecords(detector.hostForwardRows + 36, 5);
    const inBatch = detector.score(large);
    [0, large.length >> 1, large.length - 1].forEach((i) => expect(Math.abs(detector.score([large[i]])[0].score - inBatch[i].score)).toBeLessThan(1e-4));
  });

  it('a record repeated in the reference gets one percentile and one flag alone or in a large batch, though its score differs in the last float digits', async () => {
    const rng = createRng(21);
    const modal = { x: 0.5, y: -0.25, c: 'a' };
    const other = () => ({ x: rng.normal(), y: rng.normal(), c: rng.uniform() < 0.5 ? 'a' : 'b' });
    const tied = await train(Array.from({ length: 800 }, (_, i) => (i % 5 === 0 ? other() : modal)), { epochs: 3, kernelPartner: false });
    const d = new Detector(tied.state);
    try {
      const batch = [...Array.from({ length: d.hostForwardRows + 20 }, other), modal];
      const inBatch = d.score(batch).at(-1);
      const alone = d.score([modal])[0];
      expect(alone.percentile).toBe(inBatch?.percentile);
      expect(alone.ood).toBe(inBatch?.ood);
      // Most held-out records are that row: its percentile is mid-run, not the run's top or bottom.
      expect(alone.percentile).toBeGreaterThan(0.2);
      expect(alone.percentile).toBeLessThan(0.9);
    } finally {
      d.dispose();
    }
  });
});

describe('explain', () => {
  it('contributions of each feature sum to the score minus the baseline score within 1e-6 nats', () => {
    const records = mixedRecords(10, 4);
    const scores = detector.score(records);
    explain(detector, records).forEach((e, i) => {
      const sum = Object.values(e.contributions).reduce((a, b) => a + b, 0);
      expect(Object.keys(e.contributions).sort()).toEqual(['amount', 'colour', 'ratio']);
      expect(Math.abs(sum - (e.score - e.baselineScore))).toBeLessThan(1e-6);
      expect(e.score).toBeCloseTo(scores[i].score, 6);
    });
  });

  it('scored a few rows at a time (as a wide model is), gives the explanation scored at once', () => {
    const records = mixedRecords(4, 9);
    const whole = explain(detector, records);
    // Chunks of 2 and 5 rows of 25 a record: every chunk starts a new path, none lines up with an order.
    for (const chunkValues of [3, 10]) {
      explain(detector, records, undefined, undefined, chunkValues).forEach((e, i) => {
        expect(e.score).toBeCloseTo(whole[i].score, 6);
        expect(e.baselineScore).toBeCloseTo(whole[i].baselineScore, 6);
        for (const [f, c] of Object.entries(whole[i].contributions)) expect(e.contributions[f]).toBeCloseTo(c, 6);
      });
    }
  });

  it('starts from each discrete field\'s most frequent code: a column empty in every record gets nothing on a record that leaves it empty', async () => {
    const rng = createRng(3);
    const records = Array.from({ length: 300 }, () => ({ x: rng.normal(), empty: null, mostlyMissing: rng.uniform() < 0.9 ? null : rng.normal() }));
    const d = new Detector((await train(records, { epochs: 3, kernelPartner: false })).state);
    try {
      const [usual, filled] = explain(d, [
        { x: 0, empty: null, mostlyMissing: null },
        { x: 0, empty: 'a value', mostlyMissing: null },
      ]);
      // The baseline is the usual record, so the usual record's contributions are about nothing;
      // an all-zero code would start from a value the column never had (4.8 nats credited before).
      for (const c of Object.values(usual.contributions)) expect(Math.abs(c)).toBeLessThan(0.5);
      expect(Math.abs(usual.score - usual.baselineScore)).toBeLessThan(0.5);
      // A value where there never was one: the whole drop is that column's.
      expect(filled.contributions.empty).toBeLessThan(-3);
      expect(filled.contributions.empty).toBeCloseTo(filled.score - filled.baselineScore, 2);
    } finally {
      d.dispose();
    }
  });

  it('starts an id column from a frequent id, not from an "other" bucket of rare ones: a new id is blamed for what it costs', async () => {
    const rng = createRng(4);
    // One id in 30% of the records, 400 others in the rest (a few records each): the bucket of
    // rare ids is the most frequent code, but each of its ids is rare.
    const records = Array.from({ length: 1200 }, (_, i) => ({ x: rng.normal(), id: i % 10 < 3 ? 'big' : `r${Math.floor(rng.uniform() * 400)}` }));
    const d = new Detector((await train(records, { epochs: 3, kernelPartner: false })).state);
    try {
      const [usual, fresh] = explain(d, [
        { x: 0, id: 'big' },
        { x: 0, id: 'never-seen' },
      ]);
      expect(Math.abs(usual.contributions.id)).toBeLessThan(0.5);
      // A new id is one of the bucket's ~340 values: several nats below the frequent one, all the id's.
      expect(fresh.score).toBeLessThan(usual.score - 3);
      expect(fresh.contributions.id).toBeLessThan(-3);
      expect(fresh.contributions.id).toBeLessThan(fresh.contributions.x);
    } finally {
      d.dispose();
    }
  });

  it('when only one feature is far out, that feature gets the most negative contribution', () => {
    const [e] = explain(detector, [{ amount: 100, ratio: 8, colour: 'red' }]);
    const worst = Object.entries(e.contributions).sort((a, b) => a[1] - b[1])[0][0];
    expect(worst).toBe('ratio');
  });
});
