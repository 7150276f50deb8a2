import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTrainingCost, Detector, encode, inferSchema, initBackend, layoutOf, MAX_FEATURES, train, type TrainResult } from '../../../src/nce';
import { restoreNoise } from '../../../src/nce/noise';
import { DEFAULT_TRAINING_CONFIG, defaultHiddenUnits, defaultMinRecordsPerEpoch, KERNEL_PARTNER_NOISES, resolveTrainingConfig, usesKernelPartner } from '../../../src/nce/config';
import { createRng } from '../../../src/nce/random';
import { thresholdAt } from '../../../src/nce/calibration';
import { normalRecords } from '../../helpers/data';

beforeAll(async () => {
  await initBackend();
});

describe('train', () => {
  it('keeps the start, p = q (logRatio 0), when no epoch beats it on held-out data', async () => {
    // A learning rate this large throws the classifier off at once: every epoch's held-out loss is
    // worse than the start's, which is then kept.
    const records = normalRecords(300, 3, 21);
    const result = await train(records, { kernelPartner: false, learningRate: 1, epochs: 3, patience: 3, seed: 2 });
    expect(result.training.bestEpoch).toBe(0);
    expect(result.training.valLoss).toBeCloseTo(result.training.valLossNoise as number, 9);
    const detector = new Detector(result.state);
    try {
      const raw = detector.evaluate(encode(result.state.schema, normalRecords(50, 3, 22)));
      for (const r of raw.logRatio) expect(Math.abs(r)).toBeLessThan(1e-5);
    } finally {
      detector.dispose();
    }
  });

  it('when real data is N(0, I) and noise N(0, 4I) in 2-D, recovers the true log ratio within 0.15 nats on the bulk', async () => {
    const records = normalRecords(4000, 2, 11);
    const result = await train(records, {
      noise: { type: 'gaussian', scale: 2 },
      labelSmoothing: 0,
      kernelPartner: false,
      seed: 5,
      epochs: 80,
      patience: 10,
    });
    const detector = new Detector(result.state);
    try {
      // Truth from the closed forms: log N(x; 0, I) - log q(x), q being the fitted noise mapped back
      // from the model's robust-scaled space (the Jacobian of the scaling cancels in the ratio).
      const probes = normalRecords(2000, 2, 99).filter((r) => Math.hypot(r.f0 as number, r.f1 as number) < 1.5);
      const enc = encode(result.state.schema, probes);
      const logJacobian = result.state.schema.reduce((s, f) => s + (f.kind === 'numeric' ? Math.log(f.scale) : 0), 0);
      const logQ = restoreNoise(result.state.noise.fitted).logDensity(enc.numeric, enc.n);
      const raw = detector.evaluate(enc);
      let err = 0;
      probes.forEach((r, i) => {
        const x0 = r.f0 as number;
        const x1 = r.f1 as number;
        const logP = -Math.log(2 * Math.PI) - 0.5 * (x0 * x0 + x1 * x1);
        err += Math.abs(raw.logRatio[i] - (logP - (logQ[i] - logJacobian)));
      });
      expect(err / probes.length).toBeLessThan(0.15);
    } finally {
      detector.dispose();
    }
  });

  it('two trainings with one seed give identical scores', async () => {
    const records = normalRecords(300, 3, 2);
    const config = { seed: 9, epochs: 5 };
    const a = await train(records, config);
    const b = await train(records, config);
    expect(scores(b)).toEqual(scores(a));
    const c = await train(records, { ...config, seed: 10 });
    expect(scores(c)).not.toEqual(scores(a));
  });

  it('reports every epoch to the progress callback with loss, validation loss and validation AUC, each kernel partner\'s after the main model\'s', async () => {
    const seen: string[] = [];
    const result = await train(normalRecords(200, 2, 3), { epochs: 4, patience: 100, contaminationTrim: 0 }, {
      onEpoch: (p) => {
        expect(Number.isFinite(p.loss) && Number.isFinite(p.valLoss)).toBe(true);
        expect(p.valAuc).toBeGreaterThanOrEqual(0);
        seen.push(`${p.partner ? 'partner ' : ''}${p.epoch}`);
      },
    });
    const partnerEpochs = ['partner 1', 'partner 2', 'partner 3', 'partner 4'];
    expect(seen).toEqual(['1', '2', '3', '4', ...partnerEpochs, ...partnerEpochs]);
    expect(result.training.history).toHaveLength(12);
    expect(result.training.partners).toEqual([expect.objectContaining({ noise: 'kde', epochsRun: 4 }), expect.objectContaining({ noise: 'kde', epochsRun: 4 })]);
    expect(result.state.partners?.map((p) => p.noise.spec)).toEqual(KERNEL_PARTNER_NOISES);
    const alone = await train(normalRecords(200, 2, 3), { epochs: 4, patience: 100, kernelPartner: false });
    expect(alone.training.history).toHaveLength(4);
    expect(alone.training.partners).toBeUndefined();
    expect(alone.state.partners).toBeUndefined();
  });

  it('trains the kernel partner by default on 1 to 128 numeric features and at most 5,000 records, as the config says otherwise', () => {
    const auto = resolveTrainingConfig({});
    expect(usesKernelPartner(auto, 5000, 128, 'logDensity')).toBe(true);
    expect(usesKernelPartner(auto, 5001, 9, 'logDensity')).toBe(false);
    expect(usesKernelPartner(auto, 300, 129, 'logDensity')).toBe(false);
    expect(usesKernelPartner(auto, 300, 0, 'logDensity')).toBe(false);
    expect(usesKernelPartner(auto, 300, 9, 'logRatio')).toBe(false);
    expect(usesKernelPartner(resolveTrainingConfig({ kernelPartner: true }), 20_000, 768, 'logDensity')).toBe(true);
    expect(usesKernelPartner(resolveTrainingConfig({ kernelPartner: false }), 300, 9, 'logDensity')).toBe(false);
    expect(() => resolveTrainingConfig({ kernelPartner: 'yes' })).toThrow(/kernelPartner/);
  });

  it('with contaminationTrim 0.05, trains twice, leaving the lowest-scoring 5% of fit rows out of the final fit but not out of calibration', async () => {
    const records = normalRecords(400, 2, 6);
    for (let i = 0; i < 20; i++) records[i * 20] = { f0: 8 + i * 0.1, f1: -8 };
    const passes = new Set<number>();
    const result = await train(records, { epochs: 6, contaminationTrim: 0.05 }, { onEpoch: (p) => passes.add(p.pass) });
    expect([...passes]).toEqual([1, 2]);
    expect(result.training.epochsRun).toBe(result.training.history.length);
    // 400 records: 80 held out (never trimmed), 320 fit rows, of which floor(0.05 * 320) = 16 trimmed.
    expect(result.training.validationRows).toBe(80);
    expect(result.training.trimmedRows).toBe(16);
    expect(result.training.trainRows).toBe(304);
    const detector = new Detector(result.state);
    try {
      const [planted, typical] = detector.score([{ f0: 8.5, f1: -8 }, { f0: 0, f1: 0 }]);
      expect(planted.score).toBeLessThan(typical.score);
    } finally {
      detector.dispose();
    }
  });

  it('calibrates the threshold so about targetFpr of held-out reference records are flagged', async () => {
    const result = await train(normalRecords(2000, 3, 4), { targetFpr: 0.1, epochs: 10 });
    const detector = new Detector(result.state);
    try {
      const fresh = detector.score(normalRecords(4000, 3, 40));
      const rate = fresh.filter((r) => r.ood).length / fresh.length;
      expect(rate).toBeGreaterThan(0.05);
      expect(rate).toBeLessThan(0.16);
      const pct = fresh.map((r) => r.percentile).sort((x, y) => x - y);
      expect(pct[Math.floor(pct.length / 2)]).toBeCloseTo(0.5, 1);
    } finally {
      detector.dispose();
    }
  });

  it.each([
    [{ type: 'mixture' as const, components: [{ weight: 1, noise: { type: 'marginals' as const } }, { weight: 1, noise: { type: 'gaussian' as const } }] }, 'logDensity'],
    [{ type: 'gaussian' as const }, 'logDensity'],
    [{ type: 'mixture' as const, components: [{ weight: 1, noise: { type: 'uniform' as const } }, { weight: 1, noise: { type: 'gaussian' as const } }] }, 'logDensity'],
    [{ type: 'uniform' as const }, 'logRatio'],
  ])('with noise %j and no scoreKind, the model scores by %s', async (noise, kind) => {
    const result = await train(normalRecords(100, 2, 4), { noise, epochs: 1 });
    expect(result.state.scoreKind).toBe(kind);
  });

  it('calibrates wide data on out-of-sample scores: new records from the reference distribution sit at their percentiles, not below them all', async () => {
    // 120 rows of 60 features: a Gaussian fitted to them scores its own rows far above new ones.
    const records = normalRecords(120, 60, 3);
    const result = await train(records, { seed: 2, epochs: 3 });
    const detector = new Detector(result.state);
    try {
      const fresh = detector.score(normalRecords(400, 60, 77));
      const mean = fresh.reduce((s, r) => s + r.percentile, 0) / fresh.length;
      expect(mean).toBeGreaterThan(0.3);
      expect(mean).toBeLessThan(0.7);
      expect(fresh.filter((r) => r.ood).length / fresh.length).toBeLessThan(0.1);
    } finally {
      detector.dispose();
    }
  });

  it('keeps in-sample calibration scores for reference rows repeated exactly, so new copies of them sit inside their tie', async () => {
    const distinct = normalRecords(300, 3, 4);
    const repeated = { f0: 0.1, f1: -0.2, f2: 0.3 };
    const records = [...distinct, ...Array.from({ length: 120 }, () => ({ ...repeated }))];
    const result = await train(records, { seed: 3, epochs: 3 });
    const detector = new Detector(result.state);
    try {
      const [copy] = detector.score([repeated]);
      // About 120 of 420 reference records tie with it: its mid-rank lies well inside (0, 1).
      expect(copy?.percentile).toBeGreaterThan(0.2);
      expect(copy?.percentile).toBeLessThan(0.98);
    } finally {
      detector.dispose();
    }
  });

  it('with examples/multimodal-config.json on two separated classes, q is a Gaussian mixture of one component per class, and the model scores by logDensity', async () => {
    const config = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'multimodal-config.json'), 'utf8')) as object;
    const records = normalRecords(600, 2, 3).map((r, i) => ({ ...r, f0: (r.f0 as number) + (i % 2 === 0 ? 10 : -10) }));
    const result = await train(records, { ...config, epochs: 2 });
    const fitted = result.state.noise.fitted;
    if (fitted.type !== 'gmm') throw new Error(`expected a gmm, got ${fitted.type}`);
    // One component per class carries the weight (BIC may add a sliver).
    expect(fitted.weights.filter((w) => w > 0.05).map((w) => Math.round(w * 10) / 10)).toEqual([0.5, 0.5]);
    expect(result.state.scoreKind).toBe('logDensity');
  });

  it('without hiddenUnits in the config, the network width follows the training rows, from 16 to 64', async () => {
    expect(defaultHiddenUnits(80)).toEqual([16, 16]);
    expect(defaultHiddenUnits(1000)).toEqual([32, 32]);
    expect(defaultHiddenUnits(20_000)).toEqual([64, 64]);
    const small = await train(normalRecords(200, 3, 5), { epochs: 1 });
    expect(small.state.architecture.hiddenUnits).toEqual(defaultHiddenUnits(small.training.trainRows));
    const chosen = await train(normalRecords(200, 3, 5), { epochs: 1, hiddenUnits: [7] });
    expect(chosen.state.architecture.hiddenUnits).toEqual([7]);
  });

  it('on a small table of six classes around a ring, learns the gap at its centre that q (one Gaussian) calls the most likely place; without passing over the rows more than once an epoch it does not', async () => {
    const rng = createRng(3);
    const centres = Array.from({ length: 6 }, (_, k) => [4 * Math.cos((k * Math.PI) / 3), 4 * Math.sin((k * Math.PI) / 3)]);
    const records = Array.from({ length: 180 }, (_, i) => ({ a: centres[i % 6][0] + 0.4 * rng.normal(), b: centres[i % 6][1] + 0.4 * rng.normal() }));
    const probes = [{ a: 0, b: 0 }, { a: 2, b: 0 }, ...centres.map(([a, b]) => ({ a, b }))];
    const scores = async (config: object): Promise<{ gap: number[]; classes: number[]; perEpoch?: number }> => {
      const result = await train(records, config);
      const detector = new Detector(result.state);
      try {
        const s = detector.score(probes).map((r) => r.score);
        return { gap: s.slice(0, 2), classes: s.slice(2), perEpoch: result.training.recordsPerEpoch };
      } finally {
        detector.dispose();
      }
    };
    const learnt = await scores({ kernelPartner: false });
    expect(learnt.perEpoch).toBe(defaultMinRecordsPerEpoch(2));
    expect(Math.max(...learnt.gap)).toBeLessThan(Math.min(...learnt.classes) - 3);
    const once = await scores({ minRecordsPerEpoch: 0, kernelPartner: false });
    expect(once.perEpoch).toBe(144);
    expect(once.gap[0]).toBeGreaterThan(Math.max(...once.classes));
  });

  it('passes over small data up to 2,048 records an epoch, fewer in proportion beyond 64 features', () => {
    expect(defaultMinRecordsPerEpoch(9)).toBe(2048);
    expect(defaultMinRecordsPerEpoch(64)).toBe(2048);
    expect(defaultMinRecordsPerEpoch(128)).toBe(1024);
    expect(defaultMinRecordsPerEpoch(1555)).toBe(84);
  });

  it('fits q to a mostly missing column\'s present values, not to its imputed medians: a record with a value there scores lower by about what its rarer pattern costs, not several nats more', async () => {
    // x, y correlated; d uniform on [1, 20] and missing 90% of the time, independently.
    const rng = createRng(5);
    const rows = (n: number) => Array.from({ length: n }, () => {
      const a = rng.normal();
      return { x: a, y: a + 0.3 * rng.normal(), d: rng.uniform() < 0.9 ? null : 1 + 19 * rng.uniform() };
    });
    const detector = new Detector((await train(rows(800), { seed: 1 })).state);
    try {
      const fresh = rows(4000);
      const { score } = detector.scoreRows(detector.encodeRecords(fresh));
      const mean = (missing: boolean): number => {
        const s = fresh.flatMap((r, i) => ((r.d === null) === missing ? [score[i]] : []));
        return s.reduce((a, b) => a + b, 0) / s.length;
      };
      // log(0.9 / 0.1) = 2.2 nats for the rarer pattern, plus d's density about its median. Fitted
      // to the imputed zeros, q gave 7.7.
      expect(mean(true) - mean(false)).toBeLessThan(4);
      expect(mean(true) - mean(false)).toBeGreaterThan(1);
    } finally {
      detector.dispose();
    }
  });

  it('on records without numeric fields, calibrates on finite held-out scores', async () => {
    const rng = createRng(12);
    const pick = (xs: string[]): string => xs[Math.floor(rng.uniform() * xs.length)];
    // Mostly distinct rows: a held-out row that a fit row repeats keeps its in-sample score.
    const shops = Array.from({ length: 40 }, (_, i) => `shop${i}`);
    const records = Array.from({ length: 200 }, () => ({ channel: pick(['web', 'store', 'app']), country: pick(['de', 'fr', 'it', 'es']), shop: pick(shops) }));
    const r = await train(records, { epochs: 2, seed: 3 });
    expect(Array.from(r.heldOutScores ?? [NaN]).every((s) => Number.isFinite(s))).toBe(true);
    expect(Number.isFinite(r.state.calibration.threshold)).toBe(true);
    expect(r.state.calibration.quantiles.every((q) => Number.isFinite(q))).toBe(true);
  });

  it('refuses a gmm noise of more components than fit records with INSUFFICIENT_DATA naming noise.components, not an internal error', async () => {
    await expect(train(normalRecords(25, 2, 3), { noise: { type: 'gmm', components: 32 }, epochs: 1 })).rejects.toMatchObject({ code: 'INSUFFICIENT_DATA', field: 'noise.components' });
  });

  it('when given too few records, refuses with INSUFFICIENT_DATA', async () => {
    await expect(train(normalRecords(5, 2, 1))).rejects.toMatchObject({ code: 'INSUFFICIENT_DATA' });
  });

  it('when the config has an unknown key or a bad value, refuses with INVALID_CONFIG naming it', async () => {
    await expect(train(normalRecords(50, 2, 1), { noiseRatio: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'noiseRatio' });
    await expect(train(normalRecords(50, 2, 1), { epoch: 3 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'epoch',
      message: expect.stringContaining('epoch: unknown key (did you mean "epochs"?)'),
    });
    await expect(train(normalRecords(50, 2, 1), { zzz: 1 })).rejects.toMatchObject({ message: expect.not.stringContaining('did you mean') });
  });

  it('counts held-out records with a value no other record has (a category seen once) in its calibration', async () => {
    // 400 records; 4 categories seen once (1% of the field, not pooled): a held-out record with one
    // would, as a new record, carry a value never seen.
    const records = normalRecords(400, 2, 3).map((r, i) => ({ ...r, c: i % 100 === 7 ? `once${i}` : ['x', 'y'][i % 2] }));
    const r = await train(records, { epochs: 2, validationSplit: 0.5, kernelPartner: false, seed: 2 });
    const unique = r.state.calibration.novelty ?? 0;
    expect(unique * r.state.calibration.referenceCount).toBeGreaterThanOrEqual(1);
    expect(unique * r.state.calibration.referenceCount).toBeLessThanOrEqual(4);
    // The threshold is set on the others, at the share that leaves targetFpr flagged in all.
    expect(r.state.calibration.threshold).toBeLessThanOrEqual(thresholdAt(Float64Array.from(r.heldOutScores ?? []).sort(), 0.01));
    // Without such values, none is counted.
    expect((await train(records.map((x) => ({ ...x, c: String(x.c).startsWith('once') ? 'x' : x.c })), { epochs: 2, validationSplit: 0.5, kernelPartner: false, seed: 2 })).state.calibration.novelty).toBeUndefined();
  });

  it('refuses an epoch that must pass over more records than it may take, naming minRecordsPerEpoch', () => {
    expect(() => resolveTrainingConfig({ minRecordsPerEpoch: 1_000_000 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field: 'minRecordsPerEpoch', message: expect.stringContaining('minRecordsPerEpoch (1000000) is above maxRecordsPerEpoch (8192)') }));
    expect(resolveTrainingConfig({ minRecordsPerEpoch: 8192 }).minRecordsPerEpoch).toBe(8192);
    // Kernels so narrow that held-out records score at the floor, where nothing can be flagged.
    expect(() => resolveTrainingConfig({ noise: { type: 'kde', bandwidth: 1e-6 } })).toThrow(expect.objectContaining({ field: 'noise.bandwidth', message: expect.stringContaining('at least 0.01') }));
    expect(() => resolveTrainingConfig({ noise: { type: 'marginals', bandwidth: 0.001 } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(resolveTrainingConfig({ minRecordsPerEpoch: 20_000, maxRecordsPerEpoch: 20_000 }).minRecordsPerEpoch).toBe(20_000);
  });

  it('says so when kernelPartner true cannot train a partner: a score that is not a log density, or no numeric feature', async () => {
    const records = normalRecords(120, 2, 4);
    const ratio = await train(records, { kernelPartner: true, scoreKind: 'logRatio', epochs: 1 });
    expect(ratio.state.partners).toBeUndefined();
    expect(ratio.training.warnings).toEqual(expect.arrayContaining([expect.stringContaining('kernelPartner is true, but the score is not a log density')]));
    const categories = await train(records.map((_, i) => ({ kind: i % 3 === 0 ? 'a' : 'b', site: i % 2 === 0 ? 'x' : 'y' })), { kernelPartner: true, epochs: 1 });
    expect(categories.training.warnings).toEqual(expect.arrayContaining([expect.stringContaining('no numeric feature')]));
    const density = await train(records, { kernelPartner: true, epochs: 1 });
    expect(density.state.partners).toHaveLength(2);
    expect(density.training.warnings ?? []).not.toEqual(expect.arrayContaining([expect.stringContaining('kernelPartner')]));
  });
});

function scores(r: TrainResult): number[] {
  const d = new Detector(r.state);
  try {
    return d.score(normalRecords(20, 3, 77)).map((s) => s.score);
  } finally {
    d.dispose();
  }
}

describe('what a training config may cost', () => {
  it('refuses, before anything is sampled, a network or an epoch\'s work that would exhaust the training process', async () => {
    const records = normalRecords(200, 3, 1);
    const started = Date.now();
    // The network: 16 members of four 1,024-wide layers are 50 million weights.
    await expect(train(records, { hiddenUnits: [1024, 1024, 1024, 1024], ensemble: 16 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'hiddenUnits' });
    // The work: 2.5 million rows an epoch (500,000 records of the 160 fit rows) through two 1,024-wide layers.
    await expect(train(records, { minRecordsPerEpoch: 500_000, maxRecordsPerEpoch: 500_000, hiddenUnits: [1024, 1024] })).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'minRecordsPerEpoch', message: expect.stringContaining('multiply-adds') });
    expect(Date.now() - started).toBeLessThan(5_000);
    // A noise ratio at which even 64 records a epoch would not fit in memory.
    expect(() => checkTrainingCost(resolveTrainingConfig({ noiseRatio: 64 }), 1000, 100_000, 0)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field: 'noiseRatio' }));
  });

  it('hears an abort within an epoch, not at its end: a long epoch does not delay a cancel', async () => {
    const records = normalRecords(200, 3, 2);
    const controller = new AbortController();
    const epochs: number[] = [];
    setTimeout(() => controller.abort(new Error('cancelled by the test')), 500);
    // A million rows an epoch (200,000 records, 4 noise samples each): far more than a second.
    const training = train(records, { minRecordsPerEpoch: 200_000, maxRecordsPerEpoch: 200_000, epochs: 2, kernelPartner: false }, { signal: controller.signal, onEpoch: (p) => epochs.push(p.epoch) });
    await expect(training).rejects.toThrow('cancelled by the test');
    expect(epochs).toEqual([]);
  });

  it('cuts an epoch that would hold more rows or input values than memory allows, and says so', () => {
    // An outside probe's request: a million records a epoch, 64 noise samples each, of 3 features (65 million rows).
    const heavy = resolveTrainingConfig({ minRecordsPerEpoch: 1_000_000, maxRecordsPerEpoch: 1_000_000, noiseRatio: 64 });
    expect(checkTrainingCost(heavy, 160, 3, 3)).toMatch(/^each epoch takes 64527 records, not the 1000000 asked for/);
    // 2 million rows of 200 inputs: 400 million values.
    expect(checkTrainingCost(resolveTrainingConfig({ minRecordsPerEpoch: 400_000, maxRecordsPerEpoch: 400_000 }), 160, 200, 200)).toMatch(/^each epoch takes 268435 records, not the 400000 asked for/);
    expect(checkTrainingCost(DEFAULT_TRAINING_CONFIG, 160, 200, 200)).toBeNull();
  });

  it('lets the defaults train the widest tables a model takes', () => {
    const columns = Array.from({ length: MAX_FEATURES }, (_, j) => `f${j}`);
    // Every column numeric and sometimes missing: each takes its value and a missing flag.
    const records = [0, 1, 2].map((i) => Object.fromEntries(columns.map((c) => [c, i === 0 ? null : i])));
    const layout = layoutOf(inferSchema(records, columns));
    expect(layout.inputWidth).toBeGreaterThan(MAX_FEATURES);
    expect(checkTrainingCost(DEFAULT_TRAINING_CONFIG, 1_000_000, layout.inputWidth, layout.numeric.length)).toBeNull();
    expect(checkTrainingCost(DEFAULT_TRAINING_CONFIG, 300, layout.inputWidth, layout.numeric.length)).toBeNull();
    // 2,048 columns of 64 categories each (66 inputs a column): the epoch is cut, the network fits.
    expect(checkTrainingCost(DEFAULT_TRAINING_CONFIG, 1_000_000, MAX_FEATURES * 66, 0)).toMatch(/^each epoch takes \d+ records/);
    expect(checkTrainingCost(DEFAULT_TRAINING_CONFIG, 300, MAX_FEATURES * 66, 0)).toMatch(/^each epoch takes \d+ records/);
  });
});

