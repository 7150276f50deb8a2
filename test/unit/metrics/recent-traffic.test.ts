import { flaggedRecord, RecentTraffic } from '../../../src/metrics';
import { KEPT_RECORD_CHARS, KEPT_TEXT_CHARS } from '../../../src/metrics/recent-traffic';

const options = { windowRecords: 5, windowSeconds: 10, flaggedRecords: 3, keepValues: true };
const record = (score: number, values?: Record<string, number>) => ({ at: 't', version: 'v1', score, percentile: 0, contributions: [], ...(values ? { values } : {}) });

describe('RecentTraffic', () => {
  it('keeps the last windowRecords scores, oldest first, and counts every record scored and flagged', () => {
    const t = new RecentTraffic(options);
    t.observe('m', 'v1', [1, 2, 3], 1, 1000);
    t.observe('m', 'v1', [4, 5, 6, 7], 2, 1000);
    expect(t.view('m', 1000)).toMatchObject({ version: 'v1', scores: [3, 4, 5, 6, 7], scored: 7, flagged: 3 });
  });

  it('drops scores older than windowSeconds', () => {
    const t = new RecentTraffic(options);
    t.observe('m', 'v1', [1, 2], 0, 1000);
    t.observe('m', 'v1', [3], 0, 6000);
    expect(t.view('m', 11_500)?.scores).toEqual([3]);
  });

  it('starts afresh for a new version, and forgets a model', () => {
    const t = new RecentTraffic(options);
    t.observe('m', 'v1', [1, 2], 1, 0);
    t.sampled('m', 'v1', [record(1)], 0, 0);
    t.observe('m', 'v2', [3], 0, 0);
    expect(t.view('m', 0)).toMatchObject({ version: 'v2', scores: [3], scored: 1, flagged: 0, sample: [] });
    t.forget('m');
    expect(t.view('m', 0)).toBeNull();
  });

  it('keeps the newest flaggedRecords samples, newest first, ignoring a sample of a version no longer tracked', () => {
    const t = new RecentTraffic(options);
    t.observe('m', 'v1', [0], 1, 0);
    t.sampled('m', 'v1', [record(1), record(2)], 0, 0);
    t.sampled('m', 'v1', [record(3), record(4)], 0, 0);
    t.sampled('m', 'v0', [record(9)], 0, 0);
    expect(t.view('m', 0)?.sample.map((r) => r.score)).toEqual([4, 3, 2]);
  });

  it('rations the sample: no batch within 200 ms of the last, nor within 50 times the time explaining took (but for a version\'s first, which holds loading the model)', () => {
    const t = new RecentTraffic(options);
    expect(t.wantsSample('m', 0)).toBe(true);
    t.observe('m', 'v1', [0], 1, 0);
    // 1.7 s for the first sample, as a scoring thread loading the model took: the shortest gap only.
    t.sampled('m', 'v1', [record(1)], 1700, 1000);
    expect(t.wantsSample('m', 1199)).toBe(false);
    expect(t.wantsSample('m', 1200)).toBe(true);
    t.sampled('m', 'v1', [record(1)], 1, 1500);
    expect(t.wantsSample('m', 1699)).toBe(false);
    expect(t.wantsSample('m', 1700)).toBe(true);
    t.sampled('m', 'v1', [record(1)], 10, 2000);
    expect(t.wantsSample('m', 2499)).toBe(false);
    expect(t.wantsSample('m', 2500)).toBe(true);
    // A new version's first sample is free again.
    t.observe('m', 'v2', [0], 1, 3000);
    t.sampled('m', 'v2', [record(1)], 1700, 3000);
    expect(t.wantsSample('m', 3200)).toBe(true);
  });

  it('takes one sample at a time: none while one is being explained, the shortest gap after one that failed, a new version afresh', () => {
    const t = new RecentTraffic(options);
    t.observe('m', 'v1', [0], 1, 0);
    t.sampling('m', 'v1');
    expect(t.wantsSample('m', 1e12)).toBe(false);
    t.sampleFailed('m', 'v1', 5000);
    expect(t.wantsSample('m', 5199)).toBe(false);
    expect(t.wantsSample('m', 5200)).toBe(true);
    t.sampling('m', 'v1');
    // The version changed while its sample was explained: the new one samples from the start.
    t.observe('m', 'v2', [0], 1, 6000);
    expect(t.wantsSample('m', 6000)).toBe(true);
    t.sampled('m', 'v1', [record(1)], 1, 6001);
    expect(t.view('m', 6001)?.sample).toEqual([]);
  });

  it('without keepValues, keeps no values even when given them', () => {
    const t = new RecentTraffic({ ...options, keepValues: false });
    t.observe('m', 'v1', [0], 1, 0);
    t.sampled('m', 'v1', [record(1, { a: 1 })], 0, 0);
    expect(t.view('m', 0)?.sample[0]).not.toHaveProperty('values');
  });
});

describe('flaggedRecord', () => {
  it('keeps the five most negative contributions, most negative first, and the model features\' values only when asked', () => {
    const contributions = { a: -1, b: 2, c: -5, d: 0, e: -0.5, f: -3, g: 1 };
    const scored = { at: 't', version: 'v', score: -9, percentile: 0 };
    const r = flaggedRecord(scored, { a: 1, c: 'x', extra: 7 }, contributions, ['a', 'b', 'c'], true);
    expect(r.contributions.map((c) => c.feature)).toEqual(['c', 'f', 'a', 'e', 'd']);
    expect(r.values).toEqual({ a: 1, b: null, c: 'x' });
    expect(flaggedRecord(scored, { a: 1 }, contributions, ['a'], false)).not.toHaveProperty('values');
  });
});

describe('flaggedRecord', () => {
  it('keeps long texts cut, and a record\'s texts within a budget, however long the values sent', () => {
    const huge = '\u0001'.repeat(7_000_000);
    const features = Array.from({ length: 40 }, (_, i) => `f${i}`);
    const record = Object.fromEntries(features.map((f) => [f, huge]));
    const kept = flaggedRecord({ at: 't', version: 'v1', score: -9, percentile: 0 }, { ...record, short: 'web', n: 3.5, gone: null }, {}, [...features, 'short', 'n', 'gone'], true);
    const texts = Object.values(kept.values ?? {}).filter((v): v is string => typeof v === 'string');
    expect(texts[0]).toBe(`${'\u0001'.repeat(KEPT_TEXT_CHARS)}…`);
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeLessThanOrEqual(KEPT_RECORD_CHARS + features.length + 3);
    expect(kept.values).toMatchObject({ f39: '…', short: '…', n: 3.5, gone: null });
    // Short values are kept as they are.
    expect(flaggedRecord({ at: 't', version: 'v1', score: -9, percentile: 0 }, { a: 'web', b: 2 }, {}, ['a', 'b'], true).values).toEqual({ a: 'web', b: 2 });
  });
});
