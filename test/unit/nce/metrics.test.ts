import { auprc, auroc, calibrate, isFlagged, percentileOf } from '../../../src/nce';
import { calibrationWarning, expectedFlaggedShare, noveltyWarning, outlyingLowWarning, thresholdAt } from '../../../src/nce/calibration';
import { createRng } from '../../../src/nce/random';

describe('auroc', () => {
  it('matches the hand-counted Mann-Whitney statistic, ties counted half', () => {
    // Positives {0.8, 0.4}, negatives {0.5, 0.4, 0.1}: pairs won 3 + 1.5 (tie at 0.4 counts half) of 6.
    expect(auroc([0.8, 0.5, 0.4, 0.4, 0.1], [1, 0, 1, 0, 0])).toBeCloseTo(4.5 / 6, 12);
    expect(auroc([1, 2, 3], [0, 0, 1])).toBe(1);
    expect(auroc([1, 2], [1, 1])).toBeNaN();
  });
});

describe('auprc', () => {
  it('is the average precision at each positive (hand-computed: (1/1 + 2/3) / 2)', () => {
    expect(auprc([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo((1 + 2 / 3) / 2, 12);
  });

  it('is exactly 1 for a perfect ranking, though 49 shares of 1/49 sum to a hair above it', () => {
    const scores = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(auprc(scores, scores.map((_, i) => (i < 49 ? 1 : 0)))).toBe(1);
  });
});

describe('calibrate and percentileOf', () => {
  const reference = Array.from({ length: 1001 }, (_, i) => i / 10);

  it('sets the threshold at rank targetFpr (n + 1) of the reference scores: the 50.1th lowest of 1,001 for 0.05', () => {
    expect(calibrate(reference, 0.05).threshold).toBeCloseTo(4.91, 6);
    // Fewer than 1/targetFpr - 1 records: the lowest.
    expect(calibrate([3, 1, 2], 0.05).threshold).toBe(1);
  });

  it('flags about targetFpr of fresh records of the reference distribution, however small the reference', () => {
    const rng = createRng(7);
    for (const n of [99, 199, 999]) {
      let flagged = 0;
      const trials = 4000;
      for (let t = 0; t < trials; t++) {
        const threshold = thresholdAt(Float64Array.from({ length: n }, () => rng.normal()).sort(), 0.01);
        if (rng.normal() < threshold) flagged++;
      }
      // Binomial sd at 4,000 trials: 0.0016.
      expect(Math.abs(flagged / trials - 0.01)).toBeLessThan(0.005);
    }
  });

  it('with a stated contamination, flags about targetFpr of clean records where the reference holds that share of anomalies', () => {
    const rng = createRng(11);
    // 970 normal reference scores and 30 anomalies well below them (3%), as a reference set of a
    // fraud table would hold; fresh clean traffic is normal only.
    const reference = [...Array.from({ length: 970 }, () => rng.normal()), ...Array.from({ length: 30 }, () => -6 + rng.normal())];
    const clean = Array.from({ length: 20_000 }, () => rng.normal());
    const flagged = (threshold: number): number => clean.filter((s) => s < threshold).length / clean.length;
    const asGiven = calibrate(reference, 0.01);
    const stated = calibrate(reference, 0.01, 0.03);
    // As given, the anomalies fill the lowest 1%, and normal scores' tail falls off faster than
    // the exponential the reference's tail is read as: the threshold stays below the clean records.
    expect(flagged(asGiven.threshold)).toBeLessThan(0.002);
    expect(asGiven.contamination).toBeUndefined();
    // Stated, the threshold is the reference's 3% + 1% x 97% point: about 1% of the clean records.
    expect(flagged(stated.threshold)).toBeGreaterThan(0.005);
    expect(flagged(stated.threshold)).toBeLessThan(0.02);
    expect(stated.contamination).toBe(0.03);
    expect(stated.threshold).toBeCloseTo(thresholdAt(Float64Array.from(reference).sort(), 0.03 + 0.01 * 0.97), 12);
    // Percentiles and drift shares are the reference's as it is, whatever is stated.
    expect(stated.quantiles).toEqual(asGiven.quantiles);
    expect(stated.referenceShares).toEqual(asGiven.referenceShares);
  });

  it('where about 1% of the reference are anomalies far below it, sets the threshold at the lower tail of the rest: about targetFpr of clean records flagged, where the order statistic flagged none', () => {
    const rng = createRng(13);
    // Log densities of Laplace-distributed records: an exponential lower tail.
    const logDensity = (): number => Math.log(rng.uniform());
    const clean = Array.from({ length: 40_000 }, logDensity);
    const flagged = (threshold: number): number => clean.filter((s) => s < threshold).length / clean.length;
    for (const share of [0.01, 0.015]) {
      const anomalies = Math.round(2000 * share);
      const reference = [...Array.from({ length: 2000 - anomalies }, logDensity), ...Array.from({ length: anomalies }, () => -40 + 2 * rng.normal())];
      const c = calibrate(reference, 0.01);
      expect(flagged(thresholdAt(Float64Array.from(reference).sort(), 0.01))).toBeLessThan(0.002);
      expect(flagged(c.threshold)).toBeGreaterThan(0.003);
      expect(flagged(c.threshold)).toBeLessThan(0.03);
      // Records like the reference's, its anomalies among them, are flagged as often as the threshold's share of it.
      const below = reference.filter((s) => s < c.threshold).length;
      expect(c.tailShare).toBeGreaterThanOrEqual(below / 2001);
      expect(c.tailShare).toBeLessThanOrEqual((below + 1) / 2001);
      expect(expectedFlaggedShare(c)).toBe(c.tailShare);
      // Stated, the contamination says where the anomalies end: the order statistic above them, no tail.
      const stated = calibrate(reference, 0.01, share);
      expect(stated.tailShare).toBeUndefined();
      expect(stated.threshold).toBe(thresholdAt(Float64Array.from(reference).sort(), share + 0.01 * (1 - share)));
    }
    // A clean reference of such scores: about targetFpr of clean records on average over 20
    // references (the order statistic alone swings by a third at 1,000 records), under 3 times it at each.
    const rates = Array.from({ length: 20 }, () => flagged(calibrate(Array.from({ length: 1000 }, logDensity), 0.01).threshold));
    expect(rates.reduce((a, b) => a + b, 0) / rates.length).toBeGreaterThan(0.008);
    expect(rates.reduce((a, b) => a + b, 0) / rates.length).toBeLessThan(0.015);
    expect(Math.max(...rates)).toBeLessThan(0.03);
    // Scores whose tail falls off faster (normal): the order statistic stands.
    const normal = Array.from({ length: 1000 }, () => rng.normal());
    expect(calibrate(normal, 0.01).threshold).toBe(thresholdAt(Float64Array.from(normal).sort(), 0.01));
    expect(calibrate(normal, 0.01).tailShare).toBeUndefined();
  });

  it('counts held-out records that carried a value no other record had as flagged: the threshold flags that much less of the rest, the drift shares put them lowest', () => {
    const scores = Float64Array.from({ length: 1000 }, (_, i) => i);
    // 4 of 1,000 held-out records (0.4%) carry a unique value: 0.6% of the other 996 are flagged by score.
    const novel = Array.from({ length: 1000 }, (_, i) => i % 250 === 100);
    const c = calibrate(scores, 0.01, 0, novel);
    expect(c.novelty).toBeCloseTo(0.004, 12);
    const rest = Float64Array.from(Array.from(scores).filter((_, i) => !novel[i]));
    expect(c.threshold).toBeCloseTo(thresholdAt(rest, (0.01 - 0.004) / 0.996), 12);
    expect(c.referenceShares?.[0]).toBeGreaterThan(0.004);
    expect(c.referenceShares?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(expectedFlaggedShare(c)).toBeCloseTo(0.01, 12);
    // More novel records than the share asked for: the lowest of the rest is the threshold, and that many are expected flagged.
    const many = calibrate(scores, 0.01, 0, Array.from({ length: 1000 }, (_, i) => i % 40 === 0));
    expect(many.threshold).toBe(1);
    // 2.5% always flagged, and the lowest of the other 975 flags 1 / 976 of them.
    expect(expectedFlaggedShare(many)).toBeCloseTo(0.025 + 0.975 / 976, 12);
    // None marked: as without.
    expect(calibrate(scores, 0.01, 0, new Array<boolean>(1000).fill(false))).toEqual(calibrate(scores, 0.01));
  });

  it('expects the share asked for to be flagged, or 1 / (n + 1) where n held-out records are too few for it', () => {
    const scores = (n: number) => Float64Array.from({ length: n }, (_, i) => i);
    expect(expectedFlaggedShare(calibrate(scores(1000), 0.01))).toBeCloseTo(0.01, 12);
    expect(expectedFlaggedShare(calibrate(scores(1000), 0.01, 0.1))).toBeCloseTo(0.1 + 0.01 * 0.9, 12);
    expect(expectedFlaggedShare(calibrate(scores(40), 0.01))).toBeCloseTo(1 / 41, 12);
    // Drawn from the reference's own distribution, new records fall below the threshold that often.
    const rng = createRng(5);
    const normal = () => rng.normal();
    let flagged = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const c = calibrate(Float64Array.from({ length: 40 }, normal), 0.01);
      if (isFlagged(c, normal())) flagged++;
    }
    expect(flagged / trials).toBeCloseTo(1 / 41, 2);
  });

  it('warns exactly when the held-out records are too few for the threshold to have a rank of its own', () => {
    // Rank targetFpr (n + 1) reaches 1 at 99 records for 0.01: 98 are too few, 99 are not.
    expect(calibrationWarning(98, 0.01, 0, 0.2)).toMatch(/calibrated on 98 held-out records, too few for targetFpr 0.01: .* about 0.010 of clean records .* at least 495 records/);
    expect(calibrationWarning(99, 0.01, 0, 0.2)).toBeNull();
    // More held-out records with a value no other record has than the share asked for: said, with the share.
    expect(noveltyWarning(200, 6, 0.01, 0)).toMatch(/^6 of the 200 held-out records \(3\.0%\) carry a value no other reference record has .* more than the 1\.0% asked for/);
    expect(noveltyWarning(200, 2, 0.01, 0)).toBeNull();
    expect(noveltyWarning(200, 6, 0.05, 0)).toBeNull();
    // A stated contamination raises the share, so fewer records do.
    expect(calibrationWarning(40, 0.01, 0.05, 0.2)).toBeNull();
    expect(calibrationWarning(10, 0.01, 0.05, 0.2)).toMatch(/at contamination 0.05/);
    // targetFpr 0 puts the threshold at the lowest score, which still flags about 1 / (n + 1).
    expect(calibrationWarning(1000, 0, 0, 0.2)).toMatch(/^targetFpr 0 puts the ood threshold at the lowest of the 1000 held-out scores: about 0.0010 of clean records will still be flagged/);
  });

  it('warns when a few held-out records far below all the others set the threshold, and seldom on a clean reference', () => {
    const rng = createRng(23);
    // Exponential lower tails of 115 records (log densities of Gaussian data fall off about so).
    const clean = (n = 115): number[] => Array.from({ length: n }, () => Math.log(rng.uniform()));
    // At 115 records the threshold is the order statistic at rank 1.16; at 60, the lowest score.
    for (const n of [115, 60]) {
      let warned = 0;
      for (let t = 0; t < 1000; t++) {
        const scores = clean(n);
        if (outlyingLowWarning(calibrate(scores, 0.01), scores) !== null) warned++;
      }
      expect(warned / 1000).toBeLessThan(0.025);
    }
    // A record far below a bulk whose middle is wide and whose lower tail is short (uniform
    // scores): within the far-out fence of the quartiles, so it sets the threshold, but far below
    // where the tail puts the share asked for.
    const uniform = [...Array.from({ length: 99 }, (_, i) => -10 + i / 10), -25];
    const c = calibrate(uniform, 0.01);
    // Rank 0.01 (100 + 1) = 1.01: a hundredth of the way from it to the next.
    expect(c.threshold).toBeCloseTo(-25 + 0.01 * 15, 9);
    expect(outlyingLowWarning(c, uniform)).toMatch(/^the ood threshold \(-24\.85\) is set by one held-out record scoring far below all the others \(-25\.00;.*anomalies in the reference, or records rare in a way no other is/);
    // Said as contamination, it is the anomaly it names: no warning; nor where it carries a value never seen (always flagged).
    expect(outlyingLowWarning(calibrate(uniform, 0.01, 0.02), uniform)).toBeNull();
    const novel = uniform.map((_, i) => i === uniform.length - 1);
    expect(outlyingLowWarning(calibrate(uniform, 0.01, 0, novel), uniform, novel)).toBeNull();
    // Under 39 records, the tail's order statistics have no rank of 2: nothing to measure "far" by.
    const fewer = [...uniform.slice(0, 37), -25];
    expect(outlyingLowWarning(calibrate(fewer, 0.01), fewer)).toBeNull();
  });

  it('sets the threshold on the rest where a few held-out records lie beyond the far-out fence (4 interquartile ranges below the lower quartile), from 30 records to where the tail speaks', () => {
    const rng = createRng(29);
    const clean = (n: number): number[] => Array.from({ length: n }, () => Math.log(rng.uniform()));
    // Two reference anomalies far out (an outside probe's digits: -9,177 and -4,082 below -223).
    const rest = clean(113);
    const scores = [...rest, -9177, -4082];
    const c = calibrate(scores, 0.01);
    const lowest = Math.min(...rest);
    // The order statistic of the rest at rank 0.01 (113 + 1) < 2: the lowest of them, or near it.
    expect(c.threshold).toBeGreaterThanOrEqual(lowest);
    expect(c.threshold).toBeLessThan(Math.min(...rest.filter((x) => x > lowest)));
    // The share of the held-out records below it: the two, and rank 1.14 of the rest.
    expect(c.tailShare).toBeCloseTo((2 + 0.01 * 114) / 116, 6);
    expect(outlyingLowWarning(c, scores)).toBeNull();
    // One far out among 39 (an outside probe: 60 held-out records of 540 features, the lowest at -1,921, clean records near -82).
    const few = [...clean(39), -1921];
    // Set among the clean ones (one of them may lie beyond the fence too, and is flagged with it).
    expect(calibrate(few, 0.01).threshold).toBeGreaterThanOrEqual(Math.min(...few.slice(0, 39)));
    // Under 30 records the quartiles say too little: the lowest score stands.
    const tiny = [...clean(28), -1921];
    expect(calibrate(tiny, 0.01).threshold).toBe(-1921);
    // More than a tenth beyond it is a part of the data (a subpopulation scoring low), not a few anomalies: no fence.
    const part = [...clean(90), ...Array.from({ length: 12 }, (_, i) => -60 - i)];
    expect(calibrate(part, 0.01).threshold).toBe(thresholdAt(Float64Array.from(part).sort(), 0.01));
    // None beyond the fence: the order statistic as before; nor with a stated contamination.
    const plain = clean(100);
    expect(calibrate(plain, 0.01).threshold).toBe(thresholdAt(Float64Array.from(plain).sort(), 0.01));
    expect(calibrate(scores, 0.01, 0.02).threshold).toBe(thresholdAt(Float64Array.from(scores).sort(), 0.02 + 0.01 * 0.98));
    // On clean references of 30 to 198 exponential-tailed scores, about targetFpr of new ones is flagged still (1 / (n + 1) below 99).
    for (const n of [40, 120]) {
      let flagged = 0;
      const trials = 4000;
      for (let t = 0; t < trials; t++) if (Math.log(rng.uniform()) < calibrate(clean(n), 0.01).threshold) flagged++;
      expect(flagged / trials).toBeLessThan(Math.max(0.01, 1 / (n + 1)) + 0.008);
    }
  });

  it('gives the share of reference scores below, clamped to [0, 1]', () => {
    const c = calibrate(reference, 0.01);
    expect(percentileOf(c, 25)).toBeCloseTo(0.25, 3);
    expect(percentileOf(c, -1)).toBe(0);
    expect(percentileOf(c, 1000)).toBe(1);
  });

  it('counts ties as half: a score that 40% of the reference shares sits mid-run, at the top and in the middle', () => {
    const top = calibrate([...Array.from({ length: 600 }, (_, i) => i), ...Array(400).fill(1000)], 0.01);
    expect(percentileOf(top, 1000)).toBeCloseTo(0.8, 2);
    expect(percentileOf(top, 1001)).toBe(1);
    const middle = calibrate([...Array.from({ length: 300 }, (_, i) => i), ...Array(400).fill(500), ...Array.from({ length: 300 }, (_, i) => 600 + i)], 0.01);
    expect(percentileOf(middle, 500)).toBeCloseTo(0.5, 2);
    expect(percentileOf(middle, 499)).toBeLessThan(0.31);
  });

  it('a score a millionth of a nat from tied reference scores ties with them (another batch size or backend): same percentile, same flag', () => {
    const modal = 2.733316;
    const tied = calibrate([...Array.from({ length: 170 }, (_, i) => -10 + i / 20), ...Array(830).fill(modal)], 0.01);
    for (const s of [modal - 1e-6, modal + 1e-6]) expect(percentileOf(tied, s)).toBe(percentileOf(tied, modal));
    expect(percentileOf(tied, modal)).toBeCloseTo(0.585, 2);
    // A threshold sitting on a run of ties: neither the run nor a repeat of it a hair lower is flagged.
    // (The reference's lower tail does not move a threshold that sits on a run of ties either.)
    const onRun = calibrate([...Array(10).fill(-2.802842), ...Array.from({ length: 990 }, (_, i) => i / 100)], 0.005);
    expect(onRun.tailShare).toBeUndefined();
    expect(onRun.threshold).toBe(-2.802842);
    for (const s of [-2.802842, -2.802843, -2.8028415]) expect(isFlagged(onRun, s)).toBe(false);
    expect(isFlagged(onRun, -2.81)).toBe(true);
    // The tolerance stays far below a never-seen value's cost and the floor's distance, however large the scores.
    expect(isFlagged({ threshold: -6e5 }, -6e5 - 1)).toBe(true);
    expect(isFlagged({ threshold: -999_995 }, -1e6)).toBe(true);
    expect(percentileOf(onRun, Infinity)).toBe(1);
    expect(percentileOf(onRun, -Infinity)).toBe(0);
    // Distinct scores farther apart than the tolerance keep their order.
    const plain = calibrate(reference, 0.01);
    expect(percentileOf(plain, 25.01)).toBeGreaterThan(percentileOf(plain, 25));
  });

  it('is non-decreasing in the score and moves by interpolation between table entries, ties or not', () => {
    const rng = createRng(17);
    const distinct = Array.from({ length: 40 }, () => rng.normal());
    for (const ref of [distinct, [...Array(300).fill(1), ...Array.from({ length: 100 }, () => rng.normal() * 3)]]) {
      const c = calibrate(ref, 0.01);
      let previous = -1;
      for (let s = -10; s <= 10; s += 0.001) {
        const p = percentileOf(c, s);
        expect(p).toBeGreaterThanOrEqual(previous);
        previous = p;
      }
    }
    // Halfway between two neighbouring table entries of distinct scores: halfway between their levels.
    const q = calibrate(distinct, 0.01).quantiles;
    for (const k of [0, 50, 199]) expect(percentileOf(calibrate(distinct, 0.01), (q[k] + q[k + 1]) / 2)).toBeCloseTo((k + 0.5) / (q.length - 1), 9);
  });

  it('stores the share of new reference-like records in each percentile hundredth: uniform without ties, lumped with them', () => {
    const plain = calibrate(reference, 0.01).referenceShares as number[];
    expect(plain).toHaveLength(100);
    expect(plain.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
    expect(Math.max(...plain)).toBeLessThan(0.02);
    const tied = calibrate([...Array.from({ length: 600 }, (_, i) => i), ...Array(400).fill(1000)], 0.01).referenceShares as number[];
    // 400 tied records at the top: 399 of the 1,001 gaps around the scores lie between them and one
    // above them all, and a new record there ties with them (their mid-rank) rather than passing them.
    expect(tied[80]).toBeCloseTo(400 / 1001, 4);
    expect(tied[99]).toBe(0);
  });
});
