import { realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type AppDeps, createApp } from './api';
import { ModelCache, ScoringThreads, type ServedVersion } from './serving';
import { qualityGateOf, type Settings } from './config';
import { expectedFlaggedShare, messageOf } from './nce';
import { outageLog } from './logger';
import { withDeadline } from './deadline';
import { createMetrics, DEFAULT_RECENT_TRAFFIC, driftReferenceOf, type Metrics, type ServedModelInfo, trainingOutcome } from './metrics';
import { BullMqQueue, BullMqScheduler, DriftRetrainer, InProcessQueue, InProcessScheduler, type JobInfo, type JobPayload, type JobQueue, type JobResult, QUEUE_NAME, QUEUE_PREFIX } from './queue';
import { claimFolder, evictionWarning, FsDatasetStore, FsModelStore, type ModelEvent, type ModelStore, guardRedis, makeFolder, openRedis, RedisDatasetStore, RedisModelStore, redisKeys, sweepLeftovers } from './store';

/** The service, wired: what `npm start` runs and what the tests drive. */
export interface Service extends Pick<AppDeps, 'store' | 'datasets' | 'queue' | 'scheduler' | 'models' | 'metrics'> {
  mode: 'embedded' | 'distributed';
  app: Express;
  drift: DriftRetrainer;
  /**
   * Stops the schedules, lets the running job finish (embedded) for up to `graceMs` (without end
   * when absent), releases models and connections. A job stopped at `graceMs` runs again from the
   * start at the next start-up, as after a crash.
   */
  close(graceMs?: number): Promise<void>;
}

/** Embedded with no REDIS_URL, distributed with one. */
export function composeService(settings: Settings, logger: Logger, backend: string): Promise<Service> {
  return settings.REDIS_URL ? composeDistributed(settings, settings.REDIS_URL, logger, backend) : composeEmbedded(settings, logger, backend);
}

/** Creates `dir` when missing; a path that is there but no folder, or cannot be made one, fails naming the setting. */
async function usableFolder(setting: string, dir: string): Promise<void> {
  const unusable = (why: string): Error => new Error(`${setting} "${dir}" cannot be used as a folder (${why})`);
  const isFile = 'it, or a folder above it, is a file';
  try {
    await makeFolder(dir);
  } catch (e: unknown) {
    const code = (e as NodeJS.ErrnoException).code;
    throw unusable(code === 'EEXIST' || code === 'ENOTDIR' ? isFile : messageOf(e));
  }
  if (!(await stat(dir)).isDirectory()) throw unusable(isFile);
}

/** One process: registry and datasets on disk, training in a worker thread, cron in-process. */
export async function composeEmbedded(settings: Settings, logger: Logger, backend: string): Promise<Service> {
  const metrics = metricsFor(settings, backend);
  await usableFolder('MODELS_DIR', settings.MODELS_DIR);
  await usableFolder('DATASETS_DIR', settings.DATASETS_DIR);
  const releases = await claimFolders(settings, logger);
  // Before anything writes: what a crash left half-written is removed, and said so.
  const leftovers = await sweepLeftovers(settings.MODELS_DIR, settings.DATASETS_DIR);
  if (leftovers.length > 0) logger.warn({ removed: leftovers }, 'removed what an earlier crash left behind');
  metrics.leftoversRemoved.inc(leftovers.length);
  // Made above: a folder gone later (moved, unmounted) is reported, not made again empty.
  const store = new FsModelStore(settings.MODELS_DIR, { fixedRoot: true });
  const datasets = new FsDatasetStore(settings.DATASETS_DIR, { fixedRoot: true });
  const models = modelCache(store, metrics, logger, settings);
  const queue = new InProcessQueue({
    datasets,
    models: store,
    logger,
    backend: settings.TF_BACKEND,
    gate: qualityGateOf(settings),
    keepVersions: settings.MODEL_KEEP_VERSIONS,
    maxValues: settings.MAX_TRAINING_VALUES,
    journal: join(settings.MODELS_DIR, '.jobs'),
    attempts: settings.JOB_ATTEMPTS,
    onFinished: (job: JobInfo, seconds: number) => {
      const outcome = trainingOutcome(job.state === 'completed' ? 'completed' : 'failed', job.error?.code);
      metrics.trainingJobs.inc({ outcome });
      metrics.trainingDuration.observe({ outcome }, seconds);
      // A new current version: scoring switches to it now, not at the cache's next check, and a
      // new model's record counters start at 0 now, so a scrape before its first batch sees them.
      if (job.result?.promoted) {
        metrics.registered(job.result.model);
        models.announce(job.result.model);
      }
    },
  });
  metrics.watchQueue(() => queue.counts());
  const scheduler = new InProcessScheduler(join(settings.MODELS_DIR, '.schedules'), queue, logger);
  const resumed = await queue.restore();
  if (resumed > 0) logger.info({ jobs: resumed }, 'jobs from before the restart queued again');
  await scheduler.start();
  return assemble('embedded', { settings, store, datasets, queue, scheduler, models, metrics, logger, backend }, async (graceMs) => {
    await scheduler.stop();
    await queue.close(graceMs);
    models.dispose();
    for (const release of releases) await release().catch((e: unknown) => logger.warn({ err: messageOf(e) }, 'shutdown: a folder\'s claim could not be released: the next start waits for it to go stale (10 s)'));
  });
}

/** Claims the embedded mode's folders for this process (once when both settings name one folder); see {@link claimFolder}. */
async function claimFolders(settings: Settings, logger: Logger): Promise<(() => Promise<void>)[]> {
  const lost = (setting: string) => (e: Error): void => logger.error({ err: e.message }, `${setting}: this process's claim on the folder was lost (it could not be renewed for 10 s): another service could start on it; taking it again as soon as the folder takes writes`);
  const unclaimed = (setting: string) => (e: Error): void => logger.warn({ err: e.message }, `${setting}: the folder cannot take this process's claim (it refuses writes): served without one`);
  const retaken = (setting: string) => (): void => logger.info(`${setting}: this process's claim on the folder is taken again`);
  // Another service started on the folder while the claim was lost: two would remove each other's
  // writes in progress and run the folder's jobs twice. This one stops, as a second service
  // started on a claimed folder does (SIGTERM: its requests in flight are answered first).
  const taken = (setting: string) => (e: Error): void => {
    logger.fatal({ err: e.message }, `${setting}: another nce-ood service process claimed the folder while this one could not renew its claim: stopping`);
    // A failure to its supervisor, though it stops as on SIGTERM.
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  };
  const claim = (setting: 'MODELS_DIR' | 'DATASETS_DIR'): Promise<() => Promise<void>> => claimFolder(setting, settings[setting], lost(setting), unclaimed(setting), retaken(setting), taken(setting));
  const releases = [await claim('MODELS_DIR')];
  if ((await realpath(settings.DATASETS_DIR)) !== (await realpath(settings.MODELS_DIR))) {
    try {
      releases.push(await claim('DATASETS_DIR'));
    } catch (e: unknown) {
      await releases[0]?.();
      throw e;
    }
  }
  return releases;
}

/**
 * An API replica on Redis: registry and datasets in Redis, training by `npm run worker`
 * processes through BullMQ, cron as BullMQ job schedulers, and new versions announced over
 * pub/sub so every replica hot-swaps them.
 */
export async function composeDistributed(settings: Settings, url: string, logger: Logger, backend: string): Promise<Service> {
  const metrics = metricsFor(settings, backend);
  const redis = await openRedis(url, 'commands');
  const subscriber = await openRedis(url, 'subscriber');
  const evicts = evictionWarning(await redis.info('memory'));
  if (evicts) logger.warn(evicts);
  // While Redis is away, their calls fail fast with STORE_UNAVAILABLE (503).
  const store = guardRedis(new RedisModelStore(redis), redis);
  const datasets = guardRedis(new RedisDatasetStore(redis), redis);
  const models = modelCache(store, metrics, logger, settings);
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      models.announce((JSON.parse(message) as ModelEvent).model);
    } catch {
      logger.warn('malformed model event ignored');
    }
  });
  await subscriber.subscribe(redisKeys.modelEvents);
  const bull = new Queue<JobPayload, JobResult>(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  const queueOutage = outageLog(logger, { down: 'Redis is unreachable: training requests fail with 503 until it is back', up: 'Redis is reachable again' });
  bull.on('error', (err) => queueOutage.down(err.message));
  redis.on('ready', () => queueOutage.up());
  // BullMQ builds its job-scheduler helper on first use and then waits for the connection without a
  // timeout: built now, while Redis is there, a schedule request during an outage fails at once.
  const jobScheduler = await bull.jobScheduler;
  const queue = guardRedis(new BullMqQueue(bull, settings.JOB_ATTEMPTS, redis), redis);
  metrics.watchQueue(() => queue.counts());
  const scheduler = guardRedis(new BullMqScheduler(bull, settings.JOB_ATTEMPTS, redis), redis);
  return assemble('distributed', { settings, store, datasets, queue, scheduler, models, metrics, logger, backend }, async (graceMs = REDIS_CLOSE_MS) => {
    // A Redis that takes connections but does not answer (a stall, a partition) would hold these
    // closes, and the process, until it answers again: they get what is left of the shutdown, at
    // most REDIS_CLOSE_MS, and the clients are then cut.
    const ms = Math.max(MIN_REDIS_CLOSE_MS, Math.min(REDIS_CLOSE_MS, graceMs));
    const late = () => new Error(`Redis did not answer within ${ms} ms`);
    try {
      // The queue does not close the scheduler helper it built. QUIT needs the server; without it
      // the clients would keep reconnecting: disconnect them. Nothing of the API's is lost either
      // way: jobs and versions live in Redis, written whole or not at all.
      await withDeadline(
        Promise.all([jobScheduler.close(), queue.close()]).then(() => Promise.all([subscriber, redis].map((c) => (c.status === 'ready' ? c.quit() : c.disconnect())))),
        ms,
        late,
      );
    } catch (e: unknown) {
      logger.warn({ err: messageOf(e), redis: redis.status }, 'shutdown: Redis did not take the closes: exiting without them');
    } finally {
      models.dispose();
      for (const c of [subscriber, redis]) if (c.status !== 'end') c.disconnect();
    }
  });
}

/** Most a distributed API waits at shutdown for Redis to take its closes. */
const REDIS_CLOSE_MS = 3000;
/** ...and least, when the requests in flight used up the shutdown's time. */
const MIN_REDIS_CLOSE_MS = 250;

/** The app and drift retraining on top of a mode's parts; `release` frees the mode's own resources. */
function assemble(mode: Service['mode'], parts: Omit<AppDeps, 'scoring'>, release: (graceMs?: number) => Promise<void>): Service {
  // Everything but what the app alone needs is also part of the service.
  const { settings, logger, backend, ...served } = parts;
  const drift = driftRetrainer(settings, served.metrics, served.models, served.queue, logger);
  const scoring = settings.SCORING_THREADS > 0 ? new ScoringThreads(settings.SCORING_THREADS, backend, logger, settings.MODEL_CACHE_MEGABYTES * 1e6) : null;
  return {
    mode,
    app: createApp({ ...parts, scoring }),
    ...served,
    drift,
    close: async (graceMs?: number) => {
      drift.stop();
      await scoring?.close();
      await release(graceMs);
    },
  };
}

/** How often the registry's model names are read for the metrics (see `Metrics.inRegistry`). */
const REGISTRY_FOLLOW_MS = 10_000;

/** The model cache, keeping the model metrics in step with the versions it serves. */
function modelCache(store: ModelStore, metrics: Metrics, logger: Logger, settings: Settings): ModelCache {
  // Every model of the registry has its record counters from 0 before it is first scored.
  let followedAt = 0;
  const followRegistry = (): void => {
    if (Date.now() - followedAt < REGISTRY_FOLLOW_MS) return;
    followedAt = Date.now();
    store.list().then(
      (names) => metrics.inRegistry(names),
      () => undefined,
    );
  };
  const info = (m: ServedVersion): ServedModelInfo => {
    const { targetFpr, referenceCount } = m.manifest.calibration;
    const expectedFlaggedRatio = expectedFlaggedShare(m.manifest.calibration);
    return { name: m.name, version: m.version, createdAt: m.manifest.createdAt, valAuc: m.manifest.training.valAuc, targetFpr, expectedFlaggedRatio, referenceRecords: referenceCount };
  };
  const cache = new ModelCache(
    store,
    logger,
    (m, previous) => {
      metrics.served(info(m), previous && info(previous));
      // A version that starts serving starts its drift window: the previous one's no longer shows.
      metrics.drift.track(m.name, m.version, driftReferenceOf(m.manifest));
    },
    // Evicted, a model is still served: its counters stay until it goes.
    (name, why) => (why === 'deleted' ? metrics.unserved(name) : metrics.unloaded(name)),
    settings.MODEL_CACHE_MAX,
    followRegistry,
    settings.MODEL_CACHE_MEGABYTES * 1e6,
  );
  followRegistry();
  cache.watch();
  void warmUp(store, cache, settings.MODEL_CACHE_MAX, logger);
  return cache;
}

/**
 * Loads the current versions of the registry's models, in turn, while the cache holds them: their
 * served-version gauges (model info, age, expected flagged share, on which the dashboard's model
 * list and the flagged-rate alerts depend) are there from the start, not from each one's first
 * scoring after a restart (an outside probe: a scheduled model nobody scored had none). It stops
 * at MODEL_CACHE_MAX models or the first that made the cache evict another (MODEL_CACHE_MEGABYTES):
 * loading more would only unload what it loaded. A model without a current version, or that fails
 * to load, is passed over: scoring says why. As a first request would, each load builds its model
 * on the event loop, before traffic, and in distributed mode reads its artifact from Redis.
 */
async function warmUp(store: ModelStore, cache: ModelCache, max: number, logger: Logger): Promise<void> {
  const names = await store.list().catch(() => [] as string[]);
  let loaded = 0;
  for (const name of names) {
    // A model that fails to load (a damaged version) takes no place.
    if (cache.disposed || loaded >= max) break;
    const before = cache.loadedCount;
    if (!(await cache.get(name).then(() => true, () => false))) continue;
    loaded++;
    if (cache.loadedCount <= before) break;
  }
  if (loaded > 0 && !cache.disposed) logger.info({ models: loaded }, 'current versions loaded at start');
}

/** Drift-triggered retraining for the models DRIFT_RETRAIN opts in, checked every few seconds. */
function driftRetrainer(settings: Settings, metrics: Metrics, models: ModelCache, queue: JobQueue, logger: Logger): DriftRetrainer {
  const afterMs = settings.DRIFT_RETRAIN_AFTER_SECONDS * 1000;
  const retrainer = new DriftRetrainer({
    policies: settings.DRIFT_RETRAIN ?? [],
    psi: settings.DRIFT_RETRAIN_PSI,
    afterMs,
    drift: (model) => metrics.drift.stats(model),
    configOf: async (model) => (await models.get(model)).manifest.config,
    queue,
    logger,
    onTrigger: (model) => metrics.driftRetrains.inc({ model }),
  });
  // Counted from 0 on every replica, so sum() over replicas and increase() see the first retrain.
  for (const { model } of settings.DRIFT_RETRAIN ?? []) metrics.driftRetrains.inc({ model }, 0);
  retrainer.start(Math.min(30_000, Math.max(1000, afterMs / 4)));
  return retrainer;
}

/** The metrics, with the drift window as configured. */
function metricsFor(settings: Settings, backend: string): Metrics {
  return createMetrics(
    { windowRecords: settings.DRIFT_WINDOW_RECORDS, windowSeconds: settings.DRIFT_WINDOW_SECONDS, minRecords: settings.DRIFT_MIN_RECORDS, topFeatures: settings.DRIFT_TOP_FEATURES },
    backend,
    { ...DEFAULT_RECENT_TRAFFIC, windowRecords: settings.DRIFT_WINDOW_RECORDS, windowSeconds: settings.DRIFT_WINDOW_SECONDS, keepValues: settings.CONSOLE_RAW_VALUES !== 'off' },
  );
}
