import { createMetrics } from '../../../src/metrics';

/** Record counters start at 0 before a model is first scored, so rate() sees its first batch. */
describe('Metrics.inRegistry', () => {
  const info = (name: string, version: string) => ({ name, version, createdAt: '2026-12-05T00:00:00.000Z', valAuc: 0.5, targetFpr: 0.01, expectedFlaggedRatio: 0.01, referenceRecords: 100 });

  it('exports the registry\'s models\' counters at 0, keeps counting across versions, and forgets a model gone from it unless it is served', async () => {
    const metrics = createMetrics();
    metrics.inRegistry(['a', 'b']);
    let text = await metrics.registry.metrics();
    for (const name of ['a', 'b']) {
      expect(text).toContain(`nce_ood_scored_records_total{model="${name}"} 0`);
      expect(text).toContain(`nce_ood_flagged_records_total{model="${name}"} 0`);
    }
    metrics.served(info('b', 'v1'), undefined);
    metrics.scoredRecords.inc({ model: 'b' }, 5);
    // Served again after an unload, at another version: one model_info series, counters go on.
    metrics.served(info('b', 'v2'), undefined);
    text = await metrics.registry.metrics();
    expect(text.match(/nce_ood_model_info\{model="b"/g)).toHaveLength(1);
    expect(text).toContain('nce_ood_model_info{model="b",version="v2"');
    expect(text).toContain('nce_ood_scored_records_total{model="b"} 5');
    // Gone from the registry: a is forgotten; b, still served here, stays until the cache lets it go.
    metrics.inRegistry([]);
    text = await metrics.registry.metrics();
    expect(text).not.toContain('model="a"');
    expect(text).toContain('nce_ood_scored_records_total{model="b"} 5');
  });
});
