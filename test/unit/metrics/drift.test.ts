import fc from 'fast-check';
import { binCount, binner, calibrate, featureReference, type FeatureReference, type FieldValue, inferSchema, percentileBin, percentileOf } from '../../../src/nce';
import { createMetrics, DriftMonitor, DriftWindow, featurePsi, psi, psiNoise, samplePsi, scoreKs, scorePsi } from '../../../src/metrics';
import { createRng } from '../../../src/nce/random';

describe('psi', () => {
  it('matches the value computed by hand', () => {
    // (0.3-0.5)ln(0.3/0.5) + (0.7-0.5)ln(0.7/0.5) = 0.2*(ln(5/3) + ln(7/5)) = 0.2*ln(7/3)
    expect(psi([0.5, 0.5], [0.3, 0.7])).toBeCloseTo(0.2 * Math.log(7 / 3), 12);
    expect(psi([0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25])).toBe(0);
    // An empty bin counts as 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    expect(psi([0.5, 0.5], [0, 1])).toBeCloseTo((1e-4 - 0.5) * Math.log(1e-4 / 0.5) + 0.5 * Math.log(2), 12);
  });
});

describe('scorePsi and scoreKs', () => {
  /** The shares per percentile bin of scored traffic, as a model calibrated as `c` bins it. */
  const shares = (c: ReturnType<typeof calibrate>, traffic: number[]): number[] => {
    const out = Array(100).fill(0);
    for (const s of traffic) out[percentileBin(percentileOf(c, s))] += 1 / traffic.length;
    return out;
  };
  const uniform = Array(100).fill(0.01);
  it('without a stored reference, compare with uniform percentiles: PSI over the lowest fifth and the deciles above (below the median only an excess counts), KS over hundredths', () => {
    // Everything in the top decile: PSI of [0.2, 0.1 x 8] against the window's [0 x 8, 1], whose
    // deficit below the median counts nothing; KS 0.9 (cumulative 0.9 vs 0).
    const top = [...Array(90).fill(0), ...Array(10).fill(0.1)];
    expect(scorePsi(undefined, top)).toBeCloseTo(psi([0.2, ...Array(8).fill(0.1)], [0.2, 0.1, 0.1, 0.1, 0, 0, 0, 0, 1]), 12);
    expect(scorePsi(undefined, top)).toBeGreaterThan(1);
    // Everything in the lowest fifth: one bin of 0.2 against 1.
    const low = [...Array(20).fill(0.05), ...Array(80).fill(0)];
    expect(scorePsi(undefined, low)).toBeCloseTo(psi([0.2, ...Array(8).fill(0.1)], [1, 0.1, 0.1, 0.1, 0, 0, 0, 0, 0]), 12);
    expect(scoreKs(undefined, top)).toBeCloseTo(0.9, 12);
    expect(scorePsi(undefined, uniform)).toBeCloseTo(0, 12);
    expect(scoreKs(undefined, uniform)).toBeCloseTo(0, 12);
  });

  it('clean traffic against a reference holding 7% anomalies at its lowest scores stays below 0.1', () => {
    const rng = createRng(5);
    const normal = (n: number): number[] => Array.from({ length: n }, () => rng.normal());
    // The reference: 93% normal scores and 7% anomalies far below them.
    const c = calibrate([...normal(1860), ...normal(140).map((s) => s - 8)], 0.01);
    const shares = (traffic: number[]): number[] => {
      const out = Array(100).fill(0);
      for (const s of traffic) out[percentileBin(percentileOf(c, s))] += 1 / traffic.length;
      return out;
    };
    expect(scorePsi(c.referenceShares, shares(normal(1000)))).toBeLessThan(0.06);
    // Traffic with a quarter of its records at the anomalies' scores reads as a moderate shift, half as a large one.
    const anomalous = (share: number): number[] => [...normal(1000 * (1 - share)), ...normal(1000 * share).map((s) => s - 8)];
    expect(scorePsi(c.referenceShares, shares(anomalous(0.25)))).toBeGreaterThan(0.1);
    expect(scorePsi(c.referenceShares, shares(anomalous(0.5)))).toBeGreaterThan(0.25);
  });

  it('clean traffic against a reference a fifth to a quarter anomalies, scoring anywhere below its median, stays below 0.1; more anomalies than the reference held, or a shift, still read as drift', () => {
    const rng = createRng(21);
    const normal = (n: number, shift = 0): number[] => Array.from({ length: n }, () => rng.normal() + shift);
    // Anomalies far below the normal scores (25%), and anomalies in the normal records' lower tail
    // (21%: they take the reference's 20th to 40th percentiles, as skin's do). Clean traffic still
    // puts 1 / (1 - share) of the reference's share in every bin above the anomalies: a PSI of
    // share x ln(1 / (1 - share)), 0.07 at 25%, 0.11 at 30%, 0.15 at 35%.
    for (const [share, offset] of [[0.25, -4], [0.21, -1.2]] as const) {
      const anomalies = (n: number): number[] => normal(n).map((s) => offset + 0.3 * s);
      const count = Math.round(2000 * share);
      const c = calibrate([...normal(2000 - count), ...anomalies(count)], 0.01);
      const sizes = { reference: c.referenceCount, window: 1000 };
      // Clean windows: plug-in PSI counted in full below the median read 0.16-0.9.
      for (let w = 0; w < 5; w++) expect(scorePsi(c.referenceShares, shares(c, normal(1000)), sizes)).toBeLessThan(0.1);
      // Twice the reference's share of anomalies: at least a moderate shift.
      const more = Math.round(2000 * share);
      expect(scorePsi(c.referenceShares, shares(c, [...normal(1000 - more), ...anomalies(more)]), sizes)).toBeGreaterThan(0.1);
      // The whole traffic a standard deviation lower, or higher: large shifts both.
      expect(scorePsi(c.referenceShares, shares(c, normal(1000, -1)), sizes)).toBeGreaterThan(0.25);
      expect(scorePsi(c.referenceShares, shares(c, normal(1000, 1)), sizes)).toBeGreaterThan(0.25);
    }
  });

  it('against a held-out reference of 40 records, clean traffic reads as drift-free once chance is taken off, and a shift still reads as large', () => {
    const rng = createRng(11);
    const normal = (n: number, shift = 0): number[] => Array.from({ length: n }, () => rng.normal() + shift);
    const plugIn: number[] = [];
    const corrected: number[] = [];
    const shifted: number[] = [];
    const raised: number[] = [];
    // The raised traffic from a stream of its own, so the models and the other traffic stay as they were.
    const other = createRng(17);
    for (let model = 0; model < 60; model++) {
      const c = calibrate(normal(40), 0.01);
      const sizes = { reference: c.referenceCount, window: 1000 };
      const clean = shares(c, normal(1000));
      plugIn.push(scorePsi(c.referenceShares, clean));
      corrected.push(scorePsi(c.referenceShares, clean, sizes));
      shifted.push(scorePsi(c.referenceShares, shares(c, normal(1000, -1)), sizes));
      raised.push(scorePsi(c.referenceShares, shares(c, Array.from({ length: 1000 }, () => other.normal() + 1)), sizes));
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    // The plug-in PSI of such a model averages (4 + 4 / 2)(1/40 + 1/1000) = 0.16 on clean traffic
    // (the four bins below the median count only their excess: half their chance level).
    expect(mean(plugIn)).toBeGreaterThan(0.1);
    const bins = [0.2, ...Array(8).fill(0.1)];
    const sizes40 = { reference: 40, window: 1000 };
    const lower = psiNoise(bins, sizes40, [false, false, false, false, true, true, true, true, true]);
    expect(Math.abs(mean(plugIn) - (psiNoise(bins, sizes40) - lower / 2))).toBeLessThan(0.05);
    expect(mean(corrected)).toBeLessThan(0.05);
    expect(corrected.filter((v) => v > 0.25).length).toBeLessThanOrEqual(3);
    // Traffic one standard deviation lower is a large shift for every one of them; one higher, whose
    // deficit below the median counts nothing, for most (it read as nothing for many of them while
    // every bin below the median took off its chance level, deficit or not).
    expect(Math.min(...shifted)).toBeGreaterThan(0.25);
    expect(mean(raised)).toBeGreaterThan(0.3);
    expect(raised.filter((v) => v > 0.25).length).toBeGreaterThanOrEqual(40);
  });

  it('against a held-out reference of 6 to 9 records, clean traffic does not read as drift: new records land between the reference scores, where the reference has no record of its own', () => {
    const rng = createRng(13);
    const normal = (n: number, shift = 0): number[] => Array.from({ length: n }, () => rng.normal() + shift);
    for (const held of [6, 8, 9]) {
      const corrected: number[] = [];
      const shifted: number[] = [];
      for (let model = 0; model < 100; model++) {
        const c = calibrate(normal(held), 0.01);
        const shares = (traffic: number[]): number[] => {
          const out = Array(100).fill(0);
          for (const s of traffic) out[percentileBin(percentileOf(c, s))] += 1 / traffic.length;
          return out;
        };
        const sizes = { reference: c.referenceCount, window: 500 };
        corrected.push(scorePsi(c.referenceShares, shares(normal(500)), sizes));
        shifted.push(scorePsi(c.referenceShares, shares(normal(500, -2)), sizes));
      }
      // The held-out records' own percentiles left 3 of 10 deciles empty at 6 records: every such model read above 0.25.
      expect(corrected.filter((v) => v > 0.25).length).toBeLessThanOrEqual(15);
      // Traffic two standard deviations lower still reads as a large shift for nearly all of them.
      expect(shifted.filter((v) => v > 0.25).length).toBeGreaterThanOrEqual(90);
    }
    // 60% of the scores one tied top score (duplicate rows): new records tie with it, never above it.
    const tiedTop = (n: number): number[] => Array.from({ length: n }, () => (rng.uniform() < 0.6 ? 5 : rng.normal()));
    for (const held of [10, 20]) {
      const corrected: number[] = [];
      for (let model = 0; model < 100; model++) {
        const c = calibrate(tiedTop(held), 0.01);
        const out = Array(100).fill(0);
        const traffic = tiedTop(500);
        for (const s of traffic) out[percentileBin(percentileOf(c, s))] += 1 / traffic.length;
        corrected.push(scorePsi(c.referenceShares, out, { reference: c.referenceCount, window: 500 }));
      }
      // 100% before the tied run sat at its own percentile; now 8% at 10 held-out records and 3% at
      // 20 (1,000 simulated models each).
      expect(corrected.filter((v) => v > 0.25).length).toBeLessThanOrEqual(20);
    }
  });

  it('takes off the chance level of sparse bins too: a rare category in a 100-record window reads neither as drift nor hides one', () => {
    const rng = createRng(12);
    // One common category and 20 rare ones, counted over 10,000 reference and 100 window records.
    const truth = [0.98, ...Array(20).fill(0.001)];
    const draw = (shares: number[], n: number): number[] => {
      const counts = shares.map(() => 0);
      for (let i = 0; i < n; i++) {
        let u = rng.uniform();
        let k = 0;
        while (k < shares.length - 1 && u >= shares[k]!) u -= shares[k++]!;
        counts[k]!++;
      }
      return counts.map((c) => c / n);
    };
    const sizes = { reference: 10_000, window: 100 };
    // Where every bin is dense, the chi-square reading: (bins - 1)(1/n + 1/m).
    expect(psiNoise([0.2, ...Array(8).fill(0.1)], { reference: 40, window: 1000 })).toBeCloseTo(8 * (1 / 40 + 1 / 1000), 12);
    const clean: number[] = [];
    const plugIn: number[] = [];
    for (let t = 0; t < 400; t++) {
      const [ref, win] = [draw(truth, 10_000), draw(truth, 100)];
      plugIn.push(psi(ref, win));
      clean.push(samplePsi(ref, win, sizes));
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    // The chance level is what clean windows show on average (the chi-square reading says 0.2).
    expect(Math.abs(psiNoise(truth, sizes) - mean(plugIn))).toBeLessThan(0.01);
    expect(mean(clean)).toBeLessThan(0.02);
    // A category that takes 8% of the traffic still reads as drift.
    const moved = [0.9, 0.08, ...Array(19).fill(0.001)];
    expect(mean(Array.from({ length: 50 }, () => samplePsi(draw(truth, 10_000), draw(moved, 100), sizes)))).toBeGreaterThan(0.2);
  });

  it('a window distributed like the reference has PSI and KS 0 however lumpy that reference is', () => {
    const lumpy = [...Array(80).fill(0.5 / 80), ...Array(20).fill(0)];
    lumpy[85] = 0.5;
    expect(scorePsi(lumpy, lumpy)).toBeCloseTo(0, 12);
    expect(scoreKs(lumpy, lumpy)).toBeCloseTo(0, 12);
    expect(scorePsi(undefined, lumpy)).toBeGreaterThan(0.25);
  });

  it('when 30% of reference scores tie at the top, in-distribution traffic drifts by nothing (mid-rank percentiles against the stored shares)', () => {
    const rng = createRng(3);
    const draw = (n: number): number[] => Array.from({ length: n }, () => (rng.uniform() < 0.3 ? 5 : rng.normal()));
    const c = calibrate(draw(2000), 0.01);
    const traffic = draw(1000);
    const shares = Array(100).fill(0);
    for (const s of traffic) shares[percentileBin(percentileOf(c, s))] += 1 / traffic.length;
    expect(scorePsi(c.referenceShares, shares)).toBeLessThan(0.05);
    expect(scoreKs(c.referenceShares, shares)).toBeLessThan(0.06);
    // The tied scores sit at the middle of their run (mid-rank), not at 1.
    expect(percentileOf(c, 5)).toBeGreaterThan(0.8);
    expect(percentileOf(c, 5)).toBeLessThan(0.9);
  });
});

describe('DriftWindow', () => {
  it('evicts the oldest records beyond its capacity, keeping bin counts exact', () => {
    const w = new DriftWindow(3, 60_000, [2]);
    w.add(0, [0.05], [0]);
    w.add(1, [0.15], [1]);
    w.add(2, [0.95], [1]);
    w.add(3, [0.96], [0]);
    expect(w.size).toBe(3);
    expect(w.percentileValues()).toEqual([0.15, 0.95, 0.96]);
    expect(w.scoreCounts).toEqual(Array.from({ length: 100 }, (_, k) => (k === 15 ? 1 : k === 95 || k === 96 ? 1 : 0)));
    expect(w.featureCounts).toEqual([[1, 2]]);
  });

  it('evicts records older than its maximum age', () => {
    const w = new DriftWindow(10, 1000, [2]);
    w.add(0, [0.5], [0]);
    w.add(600, [0.5], [1]);
    w.add(1200, [0.5], [1]);
    w.evict(1500);
    expect(w.size).toBe(2);
    expect(w.featureCounts).toEqual([[0, 2]]);
    w.evict(10_000);
    expect(w.size).toBe(0);
    expect(w.scoreCounts.every((c) => c === 0)).toBe(true);
  });
  it('holds what a plain list of the records would, whatever the batches and evictions', () => {
    // The model: every record kept in a list, the window its last `capacity` within the age limit.
    const featureBins = [3, 2];
    const batch = fc.record({
      time: fc.integer({ min: 0, max: 50 }),
      records: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 1 })), { maxLength: 9 }),
      from: fc.integer({ min: 0, max: 3 }),
      evictAt: fc.option(fc.integer({ min: 0, max: 50 })),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(batch, { maxLength: 12 }), (capacity, batches) => {
        const w = new DriftWindow(capacity, 20, featureBins);
        let list: { time: number; p: number; bins: number[] }[] = [];
        let now = 0;
        const holdsList = (): void => {
          expect(w.size).toBe(list.length);
          expect(w.percentileValues()).toEqual(list.map((r) => r.p));
          expect(w.scoreCounts).toEqual(Array.from({ length: 100 }, (_, k) => list.filter((r) => percentileBin(r.p) === k).length));
          expect(w.featureCounts).toEqual(featureBins.map((size, j) => Array.from({ length: size }, (_, k) => list.filter((r) => r.bins[j] === k).length)));
        };
        for (const b of batches) {
          now += b.time;
          const from = Math.min(b.from, b.records.length);
          const before = w.changes;
          w.add(now, b.records.map((r) => r[0]), b.records.slice(from).flatMap((r) => [r[1], r[2]]), from);
          list = [...list, ...b.records.slice(from).map((r) => ({ time: now, p: r[0], bins: [r[1], r[2]] }))].slice(-capacity);
          expect(w.changes !== before).toBe(b.records.length > from);
          // Read after every change: statistics tallied once must follow the next change.
          holdsList();
          if (b.evictAt !== null) {
            w.evict(now + b.evictAt);
            list = list.filter((r) => r.time >= now + b.evictAt! - 20);
            holdsList();
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('featureReference', () => {
  it('bins numeric features by training deciles, categories by name, missing apart', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ x: i, c: i % 4 === 0 ? 'a' : 'b', k: i % 2 }));
    const refs = featureReference(records, inferSchema(records));
    const [x, c, k] = refs;
    // Below the lowest value, the deciles, above the highest (just past 99), missing.
    expect(x).toMatchObject({ kind: 'numeric', edges: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, expect.any(Number)], outer: true });
    expect(x!.kind === 'numeric' && x!.edges[10]! > 99 && x!.edges[10]! - 99 < 1e-12).toBe(true);
    // Beyond the training range: a share of 1 / (n + 2) each, the deciles 10 / (n + 2).
    expect(x?.shares[0]).toBeCloseTo(1 / 102, 12);
    expect(x?.shares[11]).toBeCloseTo(1 / 102, 12);
    expect(x?.shares.slice(1, 11).every((s) => Math.abs(s - 10 / 102) < 1e-12)).toBe(true);
    expect(x?.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(c).toMatchObject({ kind: 'categorical', categories: ['b', 'a'], shares: [0.75, 0.25, 0, 0] });
    // A two-valued feature keeps two bins of its values; nothing lies beyond values that repeat.
    expect(k).toMatchObject({ edges: [0, 1, expect.any(Number)], shares: [0, 0.5, 0.5, 0, 0] });
    expect(binner(x!)(-5)).toBe(0);
    expect(binner(x!)(0)).toBe(1);
    expect(binner(x!)(10)).toBe(2);
    expect(binner(x!)(99)).toBe(10);
    expect(binner(x!)(99.5)).toBe(11);
    expect(binner(x!)(1e9)).toBe(11);
    expect(binner(x!)(null)).toBe(12);
    expect(binner(c!)('zzz')).toBe(2);
  });

  it('reads a sentinel beyond the training range as drift (a broken sensor sending -1 where idle read 0), and clean records as none', () => {
    const rng = createRng(12);
    // rpm: 0 while idle (30%), else about 1500.
    const rpm = (n: number, idle: number) => Array.from({ length: n }, () => ({ rpm: rng.uniform() < 0.3 ? idle : 1500 + 50 * rng.normal() }));
    const reference = rpm(5000, 0);
    const [ref] = featureReference(reference, inferSchema(reference));
    const share = (records: { rpm: number }[]) => {
      const out = Array(binCount(ref!)).fill(0);
      for (const r of records) out[binner(ref!)(r.rpm)] += 1 / records.length;
      return out;
    };
    const sizes = { reference: reference.length, window: 1000 };
    expect(samplePsi(ref!.shares, share(rpm(1000, -1)), sizes)).toBeGreaterThan(0.25);
    expect(samplePsi(ref!.shares, share(rpm(1000, 0)), sizes)).toBeLessThan(0.05);
  });

  it('a reading rounded to whole units, whose extremes repeat in the reference, leaves room beyond them: clean traffic reads as no drift, a sentinel as drift', () => {
    const rng = createRng(14);
    // Glucose-like: mg/dL as whole numbers, 200 reference rows; each extreme held by two rows.
    const reading = () => Math.round(120 + 25 * rng.normal());
    const reference = Array.from({ length: 200 }, () => ({ glucose: reading() }));
    const values = reference.map((r) => r.glucose).sort((a, b) => a - b);
    reference.push({ glucose: values[0]! }, { glucose: values.at(-1)! });
    const [ref] = featureReference(reference, inferSchema(reference));
    expect(ref!.shares[0]).toBeCloseTo(1 / (reference.length + 2), 12);
    expect(ref!.shares[ref!.shares.length - 2]).toBeCloseTo(1 / (reference.length + 2), 12);
    const psiOf = (vals: number[]) => {
      const out = Array(binCount(ref!)).fill(0);
      for (const v of vals) out[binner(ref!)(v)] += 1 / vals.length;
      return samplePsi(ref!.shares, out, { reference: reference.length, window: vals.length });
    };
    const clean = Array.from({ length: 1000 }, reading);
    expect(psiOf(clean)).toBeLessThan(0.1);
    expect(psiOf(clean.map((v, i) => (i % 10 === 0 ? 999 : v)))).toBeGreaterThan(0.25);
  });

  it('on a small reference, reads clean traffic of a constant, an integer code and a continuous reading as no drift, and values beyond their range as drift', () => {
    const rng = createRng(13);
    const rows = (n: number) => Array.from({ length: n }, () => ({ constant: 5, code: 1 + Math.floor(rng.uniform() * 10), reading: 20 + 3 * rng.normal() }));
    const reference = rows(30);
    const refs = featureReference(reference, inferSchema(reference));
    const psiOf = (j: number, values: number[]) => {
      const ref = refs[j]!;
      const out = Array(binCount(ref)).fill(0);
      for (const v of values) out[binner(ref)(v)] += 1 / values.length;
      return samplePsi(ref.shares, out, { reference: reference.length, window: values.length });
    };
    const clean = rows(1000);
    // Clean: under the feature alert's 0.25 by a margin (an outside probe read 0.29 and 0.43 on
    // the constant and the code when every outer bin took 1/(n + 2)).
    expect(psiOf(0, clean.map((r) => r.constant))).toBeLessThan(0.1);
    expect(psiOf(1, clean.map((r) => r.code))).toBeLessThan(0.1);
    expect(psiOf(2, clean.map((r) => r.reading))).toBeLessThan(0.1);
    // A quarter of the records beyond the range.
    const broken = (j: number, v: number, key: 'constant' | 'code' | 'reading') => psiOf(j, clean.map((r, i) => (i % 4 === 0 ? v : r[key])));
    expect(broken(0, 0, 'constant')).toBeGreaterThan(0.25);
    expect(broken(1, 11, 'code')).toBeGreaterThan(0.25);
    expect(broken(2, 9999, 'reading')).toBeGreaterThan(0.25);
  });

  it('on a small reference, reads a capped feature whose cap one record holds as no drift when traffic stays within it, and values beyond it as drift', () => {
    const rng = createRng(14);
    // An age capped at 100: in 30 reference rows one record holds the cap, and clean traffic never exceeds it.
    const ages = (n: number) => Array.from({ length: n }, () => ({ age: Math.min(100, 40 + 25 * rng.uniform() + 40 * rng.uniform()) }));
    const reference = [...ages(29), { age: 100 }];
    const [ref] = featureReference(reference, inferSchema(reference));
    const share = (values: number[]) => {
      const out = Array(binCount(ref!)).fill(0);
      for (const v of values) out[binner(ref!)(v)] += 1 / values.length;
      return out;
    };
    const sizes = { reference: reference.length, window: 500 };
    const clean = ages(500).map((r) => r.age);
    // The bin above the range expects about 1/(n + 2) of the records and gets none: 0.18 of PSI with both sides counted.
    expect(samplePsi(ref!.shares, share(clean), sizes)).toBeGreaterThan(0.1);
    expect(featurePsi(ref!, share(clean), sizes)).toBeLessThan(0.1);
    // A quarter of the records beyond the cap, or below the lowest age seen, still reads as a large shift.
    expect(featurePsi(ref!, share(clean.map((v, i) => (i % 4 === 0 ? 130 : v))), sizes)).toBeGreaterThan(0.25);
    expect(featurePsi(ref!, share(clean.map((v, i) => (i % 4 === 0 ? 1 : v))), sizes)).toBeGreaterThan(0.25);
  });

  it('reads the same values rounded on their way (through 32-bit floats, 6 significant digits) as no drift: edges are training values, and a repeated lowest value rounded down stays in its bin', () => {
    const rng = createRng(21);
    // A feature 90% at its lowest value (as cardio's is), the rest spread above it; another continuous.
    const rows = (n: number) => Array.from({ length: n }, () => ({ f: rng.uniform() < 0.9 ? -0.278294946 : -0.278294946 + 3 * rng.uniform(), g: 1000 * rng.normal() }));
    const reference = rows(2000);
    const refs = featureReference(reference, inferSchema(reference));
    const clean = rows(1000);
    const psiOf = (values: { f: number; g: number }[]) =>
      refs.map((ref) => {
        const out = Array(binCount(ref)).fill(0);
        for (const r of values) out[binner(ref)(r[ref.name as 'f' | 'g'])] += 1 / values.length;
        return featurePsi(ref, out, { reference: reference.length, window: values.length });
      });
    const asStored = psiOf(clean);
    expect(Math.max(...asStored)).toBeLessThan(0.1);
    for (const round of [(v: number) => Math.fround(v), (v: number) => Number(v.toPrecision(6)), (v: number) => v * (1 + 1e-12), (v: number) => v * (1 - 1e-7)]) {
      expect(Math.max(...psiOf(clean.map((r) => ({ f: round(r.f), g: round(r.g) }))))).toBeLessThan(0.1);
    }
    // The highest training value rounded up stays within the range.
    const highest = Math.max(...reference.map((r) => r.g));
    const g = refs[1]!;
    expect(binner(g)(Math.fround(highest) >= highest ? Math.fround(highest) : highest * (1 + 1e-7))).toBe(binner(g)(highest));
    // A value a thousandth below the lowest is still below the training range.
    expect(binner(refs[0]!)(-0.278294946 * 1.001)).toBe(0);
  });

  it('gives a value a decile or more of the records repeat a bin of its own: a zero-inflated column whose zeros fall from 70% to 50% reads as drift', () => {
    const rng = createRng(8);
    const column = (zeros: number, n: number) => Array.from({ length: n }, () => ({ zi: rng.uniform() < zeros ? 0 : 1 + Math.floor(rng.uniform() * 20) }));
    const reference = column(0.7, 4000);
    const [ref] = featureReference(reference, inferSchema(reference));
    expect(ref?.shares[1]).toBeCloseTo(reference.filter((r) => r.zi === 0).length / reference.length, 12);
    expect(binner(ref!)(0)).toBe(1);
    expect(binner(ref!)(1)).toBe(2);
    const share = (records: { zi: number }[]) => {
      const out = Array(binCount(ref!)).fill(0);
      for (const r of records) out[binner(ref!)(r.zi)] += 1 / records.length;
      return out;
    };
    const sizes = { reference: reference.length, window: 2000 };
    expect(samplePsi(ref!.shares, share(column(0.5, 2000)), sizes)).toBeGreaterThan(0.12);
    expect(samplePsi(ref!.shares, share(column(0.7, 2000)), sizes)).toBeLessThan(0.02);
  });

  it('bins any value as the reference defines its bins', () => {
    // The definition, written plainly: missing values last, unknown categories before them, a
    // number to the count of edges at or below it.
    const expected = (ref: FeatureReference, v: FieldValue | undefined): number => {
      const missing = binCount(ref) - 1;
      if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return missing;
      if (ref.kind === 'categorical') return ref.categories.includes(String(v)) ? ref.categories.indexOf(String(v)) : ref.categories.length;
      return typeof v === 'number' ? ref.edges.filter((e) => e <= v).length : missing;
    };
    const value = fc.oneof(fc.double(), fc.integer({ min: -3, max: 12 }), fc.constantFrom('a', 'b', 'zzz', '1', 'NaN', null, undefined));
    const column = fc.array(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('a', 'b', '1', null)), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(column, fc.array(value, { maxLength: 30 }), (col, probes) => {
        const records = col.map((x) => ({ x }));
        const [ref] = featureReference(records, inferSchema(records));
        const bin = binner(ref!);
        for (const v of probes) expect(bin(v)).toBe(expected(ref!, v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('DriftMonitor', () => {
  it('keeps the last records of a batch larger than its window, binned as the reference bins them', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ x: i }));
    const refs = featureReference(records, inferSchema(records));
    const monitor = new DriftMonitor({ windowRecords: 20, windowSeconds: 60, topFeatures: 1, minRecords: 1 });
    // Records 0..79 leave; 80..99 (the top decile, percentiles 0.8-0.99) stay.
    const binned = monitor.bin('m', 'v1', { features: refs, featureRecords: 100, scoreShares: undefined, scoreRecords: 0 }, records);
    monitor.add(binned, records.map((r) => r.x / 100), 0);
    const stats = monitor.stats('m', 0)!;
    expect(stats.records).toBe(20);
    // The window is all in deciles 9 and 10 of x, against 10% each in the reference: PSI of that
    // mix, less the chance level of 100 reference and 20 window records.
    // (The bins beyond the range, which the window leaves empty, count only an excess: held at
    // their reference shares, and taking off no chance level either.)
    const ref = refs[0]!;
    const window = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5, 0, 0];
    const outer = [0, ref.kind === 'numeric' ? ref.edges.length : -1];
    const held = window.map((w, b) => (outer.includes(b) ? (ref.shares[b] as number) : w));
    const expected = psi(ref.shares, held) - psiNoise(ref.shares, { reference: 100, window: 20 }, window.map((_, b) => outer.includes(b)));
    expect(expected).toBeGreaterThan(1);
    expect(featurePsi(ref, window, { reference: 100, window: 20 })).toBeCloseTo(expected, 12);
    expect(stats.features).toHaveLength(1);
    expect(stats.features[0]!.psi).toBeCloseTo(expected, 12);
    // Scores: against uniform (no stored reference, size unknown), 20 window records by chance.
    const uniform = [0.2, ...Array(8).fill(0.1)];
    // (Below the median only an excess counts: the window's empty lower bins count nothing, and
    // take off no chance level either.)
    const lowerClipped = [true, true, true, true, false, false, false, false, false];
    expect(stats.psi).toBeCloseTo(psi(uniform, [0.2, 0.1, 0.1, 0.1, 0, 0, 0, 0.5, 0.5]) - psiNoise(uniform, { reference: 0, window: 20 }, lowerClipped), 12);
    expect(stats.ks).toBeCloseTo(0.8, 12);
  });
});

describe('DriftMonitor.unload', () => {
  it('keeps the windows of unloaded models within its byte bound, forgetting the longest unloaded first; a model scored again is no longer counted', () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ x: i }));
    const refs = featureReference(records, inferSchema(records));
    const reference = { features: refs, featureRecords: 50, scoreShares: undefined, scoreRecords: 0 };
    // 20 records x (16 + 2 x 1 feature) = 360 bytes a window; room for two.
    const monitor = new DriftMonitor({ windowRecords: 20, windowSeconds: 60, topFeatures: 1, minRecords: 1 }, 800);
    for (const m of ['a', 'b', 'c']) monitor.add(monitor.bin(m, 'v1', reference, records.slice(0, 5)), [0.1, 0.2, 0.3, 0.4, 0.5], 0);
    monitor.unload('a');
    monitor.unload('b');
    expect(monitor.stats('a', 0)?.records).toBe(5);
    // Loaded again: a's window is its own again, out of the bound's count.
    monitor.add(monitor.bin('a', 'v1', reference, records.slice(0, 5)), [0.1, 0.2, 0.3, 0.4, 0.5], 0);
    expect(monitor.stats('a', 0)?.records).toBe(10);
    monitor.unload('c');
    expect(monitor.models().sort()).toEqual(['a', 'b', 'c']);
    // A third unloaded window is over the bound: the longest unloaded (b) goes.
    monitor.unload('a');
    expect(monitor.models().sort()).toEqual(['a', 'c']);
    expect(monitor.stats('a', 0)?.records).toBe(10);
  });
});

describe('drift metrics', () => {
  it('keep labels bounded: top features per model only, and nothing left of a model that is no longer served', async () => {
    const metrics = createMetrics({ windowRecords: 100, windowSeconds: 60, minRecords: 10, topFeatures: 3 });
    const records = Array.from({ length: 50 }, (_, i) => Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`f${j}`, (i * (j + 1)) % 17])));
    const refs = featureReference(records, inferSchema(records));
    const percentiles = records.map((_, i) => (i % 10) / 10);
    for (let m = 0; m < 40; m++) {
      metrics.served({ name: `m${m}`, version: 'v1', createdAt: new Date().toISOString(), valAuc: 0.8, targetFpr: 0.01, expectedFlaggedRatio: m % 2 ? 0.01 : 0.109, referenceRecords: 40 + m }, undefined);
      metrics.drift.add(metrics.drift.bin(`m${m}`, 'v1', { features: refs, featureRecords: records.length, scoreShares: undefined, scoreRecords: 0 }, records), percentiles);
    }
    const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    let text = await metrics.registry.metrics();
    expect(series(text, 'nce_ood_feature_drift_psi')).toHaveLength(40 * 3);
    expect(series(text, 'nce_ood_drift_psi')).toHaveLength(40);
    expect(series(text, 'nce_ood_model_expected_flagged_ratio').filter((l) => l.endsWith(' 0.109'))).toHaveLength(20);
    expect(series(text, 'nce_ood_model_reference_records')).toContain('nce_ood_model_reference_records{model="m3"} 43');
    for (let m = 0; m < 40; m++) metrics.unserved(`m${m}`);
    text = await metrics.registry.metrics();
    for (const name of ['nce_ood_feature_drift_psi', 'nce_ood_drift_psi', 'nce_ood_drift_ks', 'nce_ood_model_info', 'nce_ood_model_age_seconds', 'nce_ood_model_expected_flagged_ratio', 'nce_ood_model_reference_records']) expect(series(text, name)).toEqual([]);
  });
});
