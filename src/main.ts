import pino from 'pino';
import { createApp, ModelCache } from './api';
import { loadSettings, SettingsError } from './config';
import { createMetrics } from './metrics';
import { initBackend } from './nce';
import { InProcessQueue } from './queue';
import { FsDatasetStore, FsModelStore } from './store';

/** Composition root: settings -> backend -> store -> metrics -> app, then serve until SIGTERM. */
async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings();
  } catch (e: unknown) {
    process.stderr.write(`${e instanceof SettingsError ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const logger = pino({ level: settings.LOG_LEVEL, base: { service: 'nce-ood' } });
  if (!settings.API_KEYS?.length) logger.warn('API_KEYS is not set: the API is open to anyone who can reach it');
  if (settings.REDIS_URL) logger.warn('REDIS_URL is set, but distributed mode is not built yet: running embedded');
  const backend = await initBackend(settings.TF_BACKEND);
  const metrics = createMetrics();
  const store = new FsModelStore(settings.MODELS_DIR);
  const models = new ModelCache(store, logger, (m, previous) => {
    if (previous) metrics.modelInfo.remove({ model: previous.name, version: previous.version, backend });
    metrics.modelInfo.set({ model: m.name, version: m.version, backend }, 1);
  });
  const datasets = new FsDatasetStore(settings.DATASETS_DIR);
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
  const app = createApp({ settings, store, datasets, queue, models, metrics, logger, backend });
  const server = app.listen(settings.PORT, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : settings.PORT;
    logger.info({ port, backend, modelsDir: settings.MODELS_DIR }, 'nce-ood listening');
  });
  const stop = (): void => {
    logger.info('shutting down');
    server.close(() => {
      void queue.close().then(() => {
        models.dispose();
        process.exit(0);
      });
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
