import { join } from 'node:path';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createApp, ModelCache } from './api';
import type { Settings } from './config';
import { createMetrics, type Metrics } from './metrics';
import { InProcessQueue, InProcessScheduler } from './queue';
import { FsDatasetStore, FsModelStore } from './store';

/** The embedded service, wired: what `npm start` runs and what the tests drive. */
export interface EmbeddedService {
  app: Express;
  store: FsModelStore;
  datasets: FsDatasetStore;
  queue: InProcessQueue;
  scheduler: InProcessScheduler;
  models: ModelCache;
  metrics: Metrics;
  /** Stops the schedules, waits for the running job, releases the models. */
  close(): Promise<void>;
}

/** Wires store -> queue -> scheduler -> metrics -> app for the embedded mode. */
export async function composeEmbedded(settings: Settings, logger: Logger, backend: string): Promise<EmbeddedService> {
  const metrics = createMetrics();
  const store = new FsModelStore(settings.MODELS_DIR);
  const datasets = new FsDatasetStore(settings.DATASETS_DIR);
  const models = new ModelCache(store, logger, (m, previous) => {
    if (previous) metrics.modelInfo.remove({ model: previous.name, version: previous.version, backend });
    metrics.modelInfo.set({ model: m.name, version: m.version, backend }, 1);
  });
  const queue = new InProcessQueue({
    datasets,
    models: store,
    logger,
    backend: settings.TF_BACKEND,
    gate: { minValAuc: settings.QUALITY_GATE_MIN_VAL_AUC, maxAucDrop: settings.QUALITY_GATE_MAX_AUC_DROP },
    onFinished: (job, seconds) => {
      metrics.trainingJobs.inc({ outcome: job.state });
      metrics.trainingDuration.observe({ outcome: job.state }, seconds);
    },
  });
  const scheduler = new InProcessScheduler(join(settings.MODELS_DIR, '.schedules'), queue, logger);
  await scheduler.start();
  const app = createApp({ settings, store, datasets, queue, scheduler, models, metrics, logger, backend });
  return {
    app,
    store,
    datasets,
    queue,
    scheduler,
    models,
    metrics,
    close: async () => {
      scheduler.stop();
      await queue.close();
      models.dispose();
    },
  };
}
