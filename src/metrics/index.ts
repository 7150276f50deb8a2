import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The service's Prometheus metrics, on a registry of their own (names prefixed `nce_ood_`). */
export interface Metrics {
  registry: Registry;
  scoredRecords: Counter<'model'>;
  flaggedRecords: Counter<'model'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  modelInfo: Gauge<'model' | 'version' | 'backend'>;
  trainingJobs: Counter<'outcome'>;
  trainingDuration: Histogram<'outcome'>;
}

/** Creates the metrics with Node's process defaults. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nce_ood_' });
  return {
    registry,
    scoredRecords: new Counter({ name: 'nce_ood_scored_records_total', help: 'Records scored', labelNames: ['model'], registers: [registry] }),
    flaggedRecords: new Counter({ name: 'nce_ood_flagged_records_total', help: 'Records flagged ood', labelNames: ['model'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'nce_ood_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    trainingJobs: new Counter({ name: 'nce_ood_training_jobs_total', help: 'Training jobs by outcome', labelNames: ['outcome'], registers: [registry] }),
    trainingDuration: new Histogram({
      name: 'nce_ood_training_duration_seconds',
      help: 'Training job duration by outcome',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    modelInfo: new Gauge({ name: 'nce_ood_model_info', help: 'Model version being served (value 1)', labelNames: ['model', 'version', 'backend'], registers: [registry] }),
  };
}
