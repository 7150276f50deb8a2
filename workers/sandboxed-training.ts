/**
 * BullMQ's sandboxed processor: runs in a child process of `npm run worker`, so CPU-bound training
 * never stalls the worker's lock renewals. One Redis connection and one tfjs backend per child.
 */
import { type SandboxedJob, UnrecoverableError } from 'bullmq';
import { loadSettings, qualityGateOf } from '../src/config';
import { describe } from '../src/errors';
import { type EpochProgress, initBackend } from '../src/nce';
import { enqueuedAt, failedReason, jobError, type JobPayload, type JobResult, runKeys, runTrainJob, trainArtifact, TRAPPED_EXIT_CODE, writeRunProgress } from '../src/queue';
import { cancelledBy, guardRedis, openRedis, RedisDatasetStore, RedisModelStore, redisKeys, whenConnected } from '../src/store';

/** How long a job waits for this child's Redis connection to come back before it fails (and is retried). */
const REDIS_WAIT_MS = 15_000;

// The worker died (even by SIGKILL): stop too, its job goes back to the queue when its lock lapses.
process.on('disconnect', () => process.exit(1));

async function open() {
  const settings = loadSettings();
  if (!settings.REDIS_URL) throw new Error('REDIS_URL is not set');
  const redis = await openRedis(settings.REDIS_URL, 'training');
  let backend: string;
  try {
    backend = await initBackend(settings.TF_BACKEND);
  } catch (e: unknown) {
    redis.disconnect();
    throw e;
  }
  return {
    redis,
    // Guarded as the API's are: a full Redis is STORAGE_FULL, a lost connection STORE_UNAVAILABLE.
    datasets: guardRedis(new RedisDatasetStore(redis), redis),
    models: guardRedis(new RedisModelStore(redis), redis),
    gate: qualityGateOf(settings),
    keepVersions: settings.MODEL_KEEP_VERSIONS,
    maxValues: settings.MAX_TRAINING_VALUES,
    backend,
  };
}

let opened: ReturnType<typeof open> | null = null;

/** Whether `e` is a WebAssembly trap: the backend's memory out of bounds or exhausted, or its runtime aborted. */
function isTrap(e: unknown): boolean {
  return e instanceof Error && e.name === 'RuntimeError';
}

export default async function processTrainJob(job: SandboxedJob<JobPayload, JobResult>, token?: string, signal?: AbortSignal): Promise<JobResult> {
  try {
    // A failed start (Redis away) is retried by the next job, not remembered.
    opened ??= open().catch((e: unknown) => {
      opened = null;
      throw e;
    });
    const deps = await opened;
    // After a Redis outage this child's connection may still be reconnecting when the next job
    // arrives: wait for it rather than spend one of the job's attempts on a failed first read.
    await whenConnected(deps.redis, REDIS_WAIT_MS);
    // Cancelled while it waited: it fails at once. (A run cancelled later stops within about a second, and its save checks the mark too.)
    // Unless a run of it saved its version before (then lost its lock, and the job came back): the
    // cancel came after that save, was answered 409 naming the version, and the version stands.
    const cancel = job.id === undefined ? null : await deps.redis.get(redisKeys.jobCancel(job.id));
    if (cancel !== null && (job.id === undefined || (await deps.models.versionOfJob(job.data.model, job.id)) === null)) throw cancelledBy(cancel);
    const epochs: EpochProgress[] = [];
    // This run's progress and its save, only while the job's lock holds its token (see runKeys).
    const run = job.id === undefined ? null : runKeys(job.id, token);
    return await runTrainJob(job.data, {
      ...deps,
      trainer: async (input) => {
        const artifact = await trainArtifact(input, deps.backend, (p) => {
          epochs.push(p);
          if (run !== null) void writeRunProgress(deps.redis, run, { epochs: [...epochs] });
        }, signal);
        // Cancelled as training ended: nothing is saved.
        signal?.throwIfAborted();
        return artifact;
      },
    }, job.id, enqueuedAt(job.data, job.timestamp), {
      ...(run === null ? {} : run.token === undefined ? { whileExists: run.job } : { whileExists: run.lock, holding: run.token }),
      unlessCancelled: job.id === undefined ? undefined : redisKeys.jobCancel(job.id),
    });
  } catch (thrown: unknown) {
    if (isTrap(thrown)) {
      // A WebAssembly trap (its memory exhausted or corrupt) leaves this process's backend unusable:
      // BullMQ would hand it every later job, and each would fail. It ends once this job's failure
      // is sent (BullMQ's SIGTERM handler waits for that), and the worker starts a fresh process.
      process.exitCode = TRAPPED_EXIT_CODE;
      process.kill(process.pid, 'SIGTERM');
    }
    const e = signal?.aborted && thrown === signal.reason ? cancelledBy(thrown) : thrown;
    const failure = jobError(e);
    const reason = failedReason(failure.code, failure.message);
    // Bad input fails at once; anything else (Redis away, a crash) is retried with backoff.
    throw describe(e).retry ? new Error(reason) : new UnrecoverableError(reason);
  }
}
