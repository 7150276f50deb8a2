import type { Metric, MetricValueWithName, Registry } from 'prom-client';

interface Series {
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A per-model histogram of per-record values (scores, percentiles), exported exactly as a
 * prom-client Histogram with a `model` label is. It takes a whole batch in one call: prom-client
 * observes one value at a time, hashing the labels and looking the bucket up by its string key each
 * time, which costs more than scoring the record. One difference: a value that is not finite is
 * skipped, where prom-client throws (scores are clamped to finite values before they get here).
 */
export class RecordHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: Float64Array;
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    registers: Registry[],
  ) {
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
    // The registry reads a metric through get(); prom-client's types list only its own classes.
    for (const r of registers) r.registerMetric(this as unknown as Metric);
  }

  /** Adds `values[i]` for i < n (non-finite values are skipped) to `model`'s series. */
  observeMany(model: string, values: ArrayLike<number>, n = values.length): void {
    if (n === 0) return;
    let s = this.series.get(model);
    if (!s) {
      s = { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(model, s);
    }
    const bounds = this.bounds;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      // First bound >= v (the +Inf bucket past the last one).
      let lo = 0;
      let hi = bounds.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (bounds[mid] < v) lo = mid + 1;
        else hi = mid;
      }
      s.counts[lo]++;
      s.sum += v;
      s.count++;
    }
  }

  /** Drops one model's series (the model is no longer served). */
  remove(labels: { model: string }): void {
    this.series.delete(labels.model);
  }

  /** Drops every series. */
  reset(): void {
    this.series.clear();
  }

  /** What the registry exports: the shape prom-client's own histograms give. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; values: MetricValueWithName<string>[]; aggregator: 'sum' }> {
    const values: MetricValueWithName<string>[] = [];
    for (const [model, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i];
        values.push({ labels: { le: this.bounds[i], model }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', model }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { model }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { model }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
