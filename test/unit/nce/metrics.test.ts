import { auprc, auroc, calibrate, percentileOf } from '../../../src/nce';

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
});

describe('calibrate and percentileOf', () => {
  const reference = Array.from({ length: 1001 }, (_, i) => i / 10);

  it('sets the threshold at the targetFpr quantile of reference scores', () => {
    expect(calibrate(reference, 0.05).threshold).toBeCloseTo(5, 6);
  });

  it('gives the share of reference scores below, clamped to [0, 1]', () => {
    const c = calibrate(reference, 0.01);
    expect(percentileOf(c, 25)).toBeCloseTo(0.25, 3);
    expect(percentileOf(c, -1)).toBe(0);
    expect(percentileOf(c, 1000)).toBe(1);
  });
});
