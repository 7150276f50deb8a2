import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { RecordHistogram } from '../../../src/metrics/record-histogram';

// No bound of -1: prom-client 15 counts a value above every bound into a bound of -1 (its "not found").
const BUCKETS = [-50, -10, -2, 0, 0.5, 1, 10];

describe('RecordHistogram', () => {
  it('exports what a prom-client Histogram observing the same values one by one exports', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.array(fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.constantFrom(...BUCKETS)), { maxLength: 30 })), { maxLength: 6 }),
        async (batches) => {
          const ours = new Registry();
          const theirs = new Registry();
          const batched = new RecordHistogram('h', 'help', BUCKETS, [ours]);
          const reference = new Histogram({ name: 'h', help: 'help', labelNames: ['model'], buckets: BUCKETS, registers: [theirs] });
          for (const [model, values] of batches) {
            batched.observeMany(model, values);
            for (const v of values) reference.observe({ model }, v);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('forgets a removed model and skips values that are not finite', async () => {
    const registry = new Registry();
    const h = new RecordHistogram('h', 'help', BUCKETS, [registry]);
    h.observeMany('a', [1, Number.NaN, Infinity, 2]);
    h.observeMany('b', [1]);
    h.remove({ model: 'b' });
    const text = await registry.metrics();
    expect(text).toContain('h_count{model="a"} 2');
    expect(text).toContain('h_sum{model="a"} 3');
    expect(text).not.toContain('model="b"');
  });
});
