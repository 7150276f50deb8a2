import { calibrate, featureReference, inferSchema, percentileOf } from '../../../src/nce';
import { binLabels, scoreHistogram } from '../../../src/ui';

/** Held-out reference scores: 1,000 evenly spaced in [-10, 0]. */
const calibration = calibrate(Float64Array.from({ length: 1000 }, (_, i) => -10 + (10 * i) / 999), 0.05);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('scoreHistogram', () => {
  it('with no recent scores, spans the reference from its lowest 1% and gives each bin the share its calibration says (evenly spaced scores: equal shares)', () => {
    const h = scoreHistogram(calibration, [], 10);
    expect(h.edges[0]).toBeCloseTo(-9.9, 9);
    expect(h.edges[10]).toBeCloseTo(0, 9);
    expect(sum(h.reference)).toBeCloseTo(1, 9);
    // The first bin holds the lowest 1% too.
    expect(h.reference[0]).toBeCloseTo(0.01 + 0.099, 2);
    for (const share of h.reference.slice(1)) expect(share).toBeCloseTo(0.099, 2);
    expect(h.window).toEqual(new Array(10).fill(0));
    expect(h).toMatchObject({ records: 0, outside: 0, threshold: calibration.threshold });
  });

  it('widens to recent scores by at most the reference range, and counts the rest in the outermost bins', () => {
    const h = scoreHistogram(calibration, [-15, -5, -5, -1000], 10);
    expect(h.edges[0]).toBeCloseTo(-19.8, 9);
    expect(h.edges[10]).toBeCloseTo(0, 9);
    expect(h.window[0]).toBeCloseTo(0.25, 9);
    expect(h.window[2]).toBeCloseTo(0.25, 9);
    expect(h.window[7]).toBeCloseTo(0.5, 9);
    expect(h.outside).toBeCloseTo(0.25, 9);
    expect(sum(h.reference)).toBeCloseTo(1, 9);
    // Below the reference's lowest score, the reference has nothing; its lowest 1% lies in [-10, -9.9].
    expect(sum(h.reference.slice(0, 4))).toBeCloseTo(0, 9);
    expect(h.reference[4]).toBeCloseTo(0.01, 3);
    expect(h.reference[6]).toBeCloseTo(percentileOf(calibration, h.edges[7]) - percentileOf(calibration, h.edges[6]), 9);
  });

  it('a long lower tail of the reference does not crowd the rest into the last bins: the bins span its bulk and the threshold', () => {
    // 990 scores in [-30, -20], ten far out down to -1,500 (a 512-feature embedding model's scores look like this).
    const scores = [...Array.from({ length: 990 }, (_, i) => -30 + (10 * i) / 989), ...Array.from({ length: 10 }, (_, i) => -1500 + 100 * i)];
    const cal = calibrate(Float64Array.from(scores), 0.05);
    const h = scoreHistogram(cal, [], 40);
    expect(h.edges[0]).toBeGreaterThan(-60);
    expect(h.edges[0]).toBeLessThanOrEqual(cal.threshold);
    // The bulk spreads over most bins, the far tail in the first.
    expect(h.reference.filter((share) => share > 0.01).length).toBeGreaterThan(20);
    expect(h.reference[0]).toBeGreaterThanOrEqual(0.01);
    expect(sum(h.reference)).toBeCloseTo(1, 9);
  });
});

describe('binLabels', () => {
  it('labels numeric deciles as ranges and categories by name, then other and missing, one label per share', () => {
    expect(binLabels({ name: 'x', kind: 'numeric', edges: [1, 2.5], shares: [0.3, 0.3, 0.4, 0] })).toEqual(['< 1', '1 to 2.5', '>= 2.5', '(missing)']);
    expect(binLabels({ name: 'x', kind: 'numeric', edges: [], shares: [1, 0] })).toEqual(['(any value)', '(missing)']);
    // Bins beyond the training range; a bin of one repeated value; digits enough to tell edges apart.
    const [ref] = featureReference(
      Array.from({ length: 100 }, (_, i) => ({ p: i < 20 ? 1013.25 : i < 60 ? 1013.7 : 1014 })),
      inferSchema([{ p: 1 }]),
    );
    expect(binLabels(ref!)).toEqual(['< 1013.3 (below training)', '1013.3 to 1013.7', '1013.7 to 1014', '1014', '> 1014 (above training)', '(missing)']);
    expect(binLabels({ name: 'c', kind: 'categorical', categories: ['<b>a</b>', 'b'], shares: [0.5, 0.5, 0, 0] })).toEqual(['<b>a</b>', 'b', '(other)', '(missing)']);
  });
});
