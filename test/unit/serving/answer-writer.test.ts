import fc from 'fast-check';
import { answerBody, answerNumber, answerResult, scoreAnswer, writeAnswer } from '../../../src/serving/answer-writer';
import { resultsOf, type ScoredRows, type ScoreResult } from '../../../src/nce';

/** Numbers as scoring produces them, and the edges of the fast path: huge, tiny, halves, -0. */
const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -1e9, max: 1e9, noNaN: true }),
  fc.integer({ min: -2e15, max: 2e15 }).map((m) => m / 1e6),
  fc.integer({ min: -2e6, max: 2e6 }).map((m) => (m + 0.5) / 1e6),
  fc.constantFrom(0, -0, 1e9, -1e9, 999999999.9999995, -999999999.9999995, 5e-7, -5e-7, 4.9e-7, -4.9e-7, 1e-300, -1e6),
);

/** Rows as a detector scores them; a missing density is -Infinity (or NaN). Lists of every length up to 300: both sides of the one-string limit. */
const rows: fc.Arbitrary<ScoredRows> = fc
  .array(fc.tuple(number, number, fc.oneof(number, fc.constantFrom(-Infinity, NaN)), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { maxLength: 300, size: 'max' })
  .map((rs) => ({
    score: Float64Array.from(rs, (r) => r[0]),
    logRatio: Float64Array.from(rs, (r) => r[1]),
    logDensity: Float64Array.from(rs, (r) => r[2]),
    percentile: Float64Array.from(rs, (r) => r[3]),
    ood: Uint8Array.from(rs, (r) => (r[4] ? 1 : 0)),
    flagged: rs.filter((r) => r[4]).length,
  }));

/** One row. */
function rowsOf(r: ScoreResult): ScoredRows {
  return {
    score: Float64Array.of(r.score),
    logRatio: Float64Array.of(r.logRatio),
    logDensity: Float64Array.of(r.logDensity ?? -Infinity),
    percentile: Float64Array.of(r.percentile),
    ood: Uint8Array.of(r.ood ? 1 : 0),
    flagged: r.ood ? 1 : 0,
  };
}

const head = { model: 'shuttle', version: '20261202T091807533Z-fe8127' };
const expected = (results: readonly ScoreResult[]): string => JSON.stringify({ ...head, results: results.map(answerResult) });
const text = (b: string | Buffer): string => (typeof b === 'string' ? b : b.toString('utf8'));

describe('scoring answers', () => {
  it('writes exactly what JSON.stringify writes of the rounded results, for any numbers', () => {
    fc.assert(
      fc.property(rows, (r) => {
        const results = resultsOf(r);
        expect(writeAnswer(head, r).toString('utf8')).toBe(expected(results));
        expect(text(answerBody(head, r))).toBe(expected(results));
        expect(text(scoreAnswer(head, results))).toBe(expected(results));
      }),
      { numRuns: 300 },
    );
  });

  it('rounds every number to six decimal places and writes each ood flag as scored', () => {
    expect(answerNumber(-8.792777940740109)).toBe(-8.792778);
    expect(answerNumber(0.18783333333333332)).toBe(0.187833);
    expect(Object.is(answerNumber(-1e-7), -0)).toBe(true);
    const r: ScoreResult = { score: -2.0000004, logRatio: 1.23456789, logDensity: null, percentile: 1 / 3, ood: true };
    expect(writeAnswer(head, rowsOf(r)).toString()).toBe(`{"model":"shuttle","version":"${head.version}","results":[{"score":-2,"logRatio":1.234568,"logDensity":null,"percentile":0.333333,"ood":true}]}`);
  });

  it('rounds contributions too and keeps their feature names as they are', () => {
    const r: ScoreResult = { score: 1, logRatio: 2, logDensity: 3, percentile: 0.5, ood: false, contributions: { 'a "b"': 0.12345678, é: -1e-9 } };
    expect(JSON.parse(text(scoreAnswer(head, [r, r])))).toEqual({ ...head, results: [0, 1].map(() => ({ ...r, contributions: { 'a "b"': 0.123457, é: 0 } })) });
  });
});
