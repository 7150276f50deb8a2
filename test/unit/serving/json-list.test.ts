import fc from 'fast-check';
import { jsonListBody } from '../../../src/serving/json-list';

/** Items shaped like scored records, some with per-feature contributions (as `explain` adds). */
const result = fc.record(
  {
    score: fc.double({ noNaN: true, noDefaultInfinity: true }),
    logRatio: fc.double({ noNaN: true, noDefaultInfinity: true }),
    logDensity: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
    percentile: fc.double({ min: 0, max: 1, noNaN: true }),
    ood: fc.boolean(),
    contributions: fc.dictionary(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 40 }),
  },
  { requiredKeys: ['score', 'logRatio', 'logDensity', 'percentile', 'ood'] },
);

const bytes = (b: string | Buffer): Buffer => (typeof b === 'string' ? Buffer.from(b) : b);

describe('jsonListBody', () => {
  it('gives exactly the bytes of one JSON.stringify, whatever the number and size of the items', () => {
    fc.assert(
      fc.property(fc.array(result, { maxLength: 3000 }), fc.string(), (items, version) => {
        const head = { model: 'm', version };
        expect(bytes(jsonListBody(head, 'results', items)).equals(Buffer.from(JSON.stringify({ ...head, results: items })))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it.each([
    ['5,000 scored records', 5000, 0],
    ['300 explained records of 150 features', 300, 150],
  ])('keeps every string it builds for a large answer below 128 KB: %s', (_what, n, features) => {
    const contributions = (i: number) => Object.fromEntries(Array.from({ length: features }, (_, j) => [`feature_${j}`, (i * j) / 7]));
    const items = Array.from({ length: n }, (_, i) => ({ score: -i / 7, logRatio: i / 3, logDensity: -i / 11, percentile: i / n, ood: i % 2 === 0, ...(features ? { contributions: contributions(i) } : {}) }));
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const body = jsonListBody({ model: 'm', version: 'v' }, 'results', items);
      expect(Buffer.isBuffer(body)).toBe(true);
      expect(body.length).toBeGreaterThan(128 * 1024);
      expect(stringify.mock.results.length).toBeGreaterThan(1);
      for (const r of stringify.mock.results) expect((r.value as string).length).toBeLessThan(128 * 1024);
      expect(bytes(body).equals(Buffer.from(JSON.stringify({ model: 'm', version: 'v', results: items })))).toBe(true);
    } finally {
      stringify.mockRestore();
    }
  });

  it('handles an empty head and an empty list', () => {
    expect(bytes(jsonListBody({}, 'results', [])).toString()).toBe('{"results":[]}');
    const many = Array.from({ length: 100 }, (_, i) => i);
    expect(bytes(jsonListBody({}, 'xs', many)).toString()).toBe(JSON.stringify({ xs: many }));
  });
});
