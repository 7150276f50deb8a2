/**
 * `npm run worker`: consumes training jobs from the Redis queue (distributed mode). Each job runs
 * in a sandboxed child process; job schedulers (cron retraining) fire here. On SIGTERM the worker
 * finishes its job for up to WORKER_SHUTDOWN_MS, then hands it back: it exits, its lock lapses and
 * another worker picks the job up after JOB_LOCK_MS.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { settingsOrExit } from '../src/config';
import { createTrainingMetrics, type TrainingMetrics, type TrainingOutcome, trainingOutcome } from '../src/metrics';
import { failureCode, QUEUE_NAME, QUEUE_PREFIX } from '../src/queue';
import { type JobCancel, lostConnection, openRedis, redisKeys, redisRefusal } from '../src/store';
import { createLogger, outageLog } from '../src/logger';
import { failChildStartOnExit } from './child-start';

/** Most a worker with no job running waits at shutdown for Redis to take its close. */
const IDLE_SHUTDOWN_MS = 3000;

/** BullMQ's errors for a run whose job lock lapsed or whose job record is gone. */
const LOCK_LOST = /could not renew lock|Lock mismatch|Missing lock|Missing key for job/i;

/**
 * A BullMQ worker that can say how many jobs it runs now: its lock manager tracks each job from the
 * start of its run to the end, however it ends. Counting 'active' against 'completed' and 'failed'
 * drifts: a run whose lock was lost meanwhile (Redis stalled past JOB_LOCK_MS) ends with neither
 * event, and an idle worker then waited its whole shutdown grace for a job it did not have.
 */
class TrainingWorker extends Worker {
  runningJobs(): number {
    return this.lockManager.getActiveJobCount();
  }
}

async function main(): Promise<void> {
  const settings = settingsOrExit();
  if (!settings.REDIS_URL) {
    process.stderr.write('invalid configuration: REDIS_URL is required by the worker (the embedded mode trains inside `npm start`)\n');
    process.exit(1);
  }
  const logger = createLogger(settings.LOG_LEVEL, 'nce-ood-worker');
  const connection = await openRedis(settings.REDIS_URL, 'worker');
  failChildStartOnExit();
  const worker = new TrainingWorker(QUEUE_NAME, join(__dirname, 'sandboxed-training.js'), {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency: settings.WORKER_CONCURRENCY,
    lockDuration: settings.JOB_LOCK_MS,
    // A dead worker's lock expires after JOB_LOCK_MS; the stalled-job check then hands its job on
    // within a sixth of that (checked at the lock's own period, takeover took 1x-2x the lock).
    stalledInterval: Math.max(1000, Math.round(settings.JOB_LOCK_MS / 6)),
    // A job whose worker was lost (killed, or stopped by a rolling restart) is handed on until it
    // has had JOB_ATTEMPTS runs (BullMQ's default hands it on once), then fails as WORKER_LOST:
    // as in embedded mode, where a restart interrupts the run.
    maxStalledCount: Math.max(0, settings.JOB_ATTEMPTS - 1),
    // And never more than JOB_ATTEMPTS runs in all, lost or failed: a run that starts beyond them
    // fails at once (as WORKER_LOST when runs were lost).
    maxStartedAttempts: settings.JOB_ATTEMPTS,
    useWorkerThreads: false,
  });
  const metrics = createTrainingMetrics();
  const metricsServer = settings.WORKER_METRICS_PORT ? serveMetrics(metrics, settings.WORKER_METRICS_PORT) : null;
  // A port already in use (or any listen error) stops the worker loudly: unmonitored is not running.
  metricsServer?.on('error', (err) => {
    logger.fatal({ err, port: settings.WORKER_METRICS_PORT }, 'metrics endpoint cannot listen');
    process.stderr.write(`nce-ood worker: cannot listen on metrics port ${settings.WORKER_METRICS_PORT}: ${err.message}\n`);
    process.exit(1);
  });
  worker.on('active', (job) => {
    // A job whose runs were lost beyond its limit is started once more only to be failed (BullMQ's deferred failure): no training starts.
    if (job.deferredFailure) logger.warn({ jobId: job.id, model: job.data.model, reason: job.deferredFailure }, 'failing a job whose runs were all lost');
    else logger.info({ jobId: job.id, model: job.data.model, attempt: job.attemptsStarted }, 'training started');
  });
  worker.on('completed', (job) => {
    count(metrics, trainingOutcome('completed'), job);
    logger.info({ jobId: job.id, model: job.data.model, result: job.returnvalue }, 'training completed');
  });
  // A run that ended without an answer (its worker died, or it lost its lock while Redis stalled)
  // is handed on by whichever worker finds it stalled: that worker counts it, as a run retried.
  // Unless it was the job's last run: BullMQ then marks it to fail, and the failure counts it.
  worker.on('stalled', (jobId) => {
    void Job.fromId(worker, jobId).then(
      (job) => {
        if (job?.deferredFailure) return;
        metrics.trainingJobs.inc({ outcome: 'retried' });
        logger.warn({ jobId }, 'a training run was lost (its worker died or lost the job\'s lock): the job runs again');
      },
      (err: unknown) => logger.warn({ jobId, err }, 'a training run was lost, and the job could not be read to tell whether it runs again'),
    );
  });
  worker.on('failed', (job, err) => {
    // Runs again when attempts are left and the error is not one that fails at once.
    const again = job !== undefined && !(err instanceof UnrecoverableError) && err.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1);
    count(metrics, trainingOutcome('failed', failureCode(err.message), again), job);
    // The error with its stack (pino's serializer): for a job that failed on a bug, the stack is
    // the only trace of where; for bad data, the message names the record and field.
    logger.warn({ jobId: job?.id, model: job?.data.model, reason: err.message, err }, 'training failed');
  });
  // While Redis is away every reconnect attempt fails: one warning per outage, not an error each.
  const outage = outageLog(logger, { down: 'Redis is unreachable: the worker waits for it', up: 'Redis is reachable again' });
  // Redis refusing the worker's commands for its state (a read-only replica, out of memory): BullMQ
  // tries again at once, with a job running thousands of times a second, each an error (an outside
  // probe: 61,793 error lines in 12 s of a read-only Redis). One warning per such spell, over once
  // a write of the worker's goes through again (a lock renewed, a job taken or finished).
  const refusing = outageLog(logger, { down: 'Redis refuses the worker\'s commands: it tries again until Redis takes them', up: 'Redis takes the worker\'s commands again' });
  for (const event of ['active', 'completed', 'locksRenewed'] as const) worker.on(event, () => refusing.up());
  worker.on('error', (err) => {
    const refused = redisRefusal(err);
    if (connection.status !== 'ready') outage.down(err.message);
    else if (refused !== null) refusing.down(`${refused}: ${err.message.slice(0, 200)}`);
    // A run that outlived its lock (this worker stalled past JOB_LOCK_MS, or Redis lost the job):
    // the stalled-job check hands the job on, and the save refuses without the lock's job record.
    else if (LOCK_LOST.test(err.message)) logger.warn({ reason: err.message }, 'a training run lost its job\'s lock: the job runs again elsewhere, and this run saves nothing');
    // Another connection's failure while the main one is ready again: BullMQ's blocking connection,
    // idle through an outage, times out once or twice after it (an outside probe: three such errors
    // 20, 40 and 60 s after every Redis restart, while the worker took jobs as usual).
    else if (lostConnection(err)) logger.warn({ reason: err.message }, 'a Redis connection of the worker failed: it reconnects');
    else logger.error({ err }, 'worker error');
  });
  connection.on('ready', () => outage.up());
  // A run whose lock could not be renewed (this worker stalled past JOB_LOCK_MS, or Redis lost the
  // job) stops, as a cancelled one does: the job runs again elsewhere, and this run would train on
  // beside that one to its end for nothing (it no longer holds the job's lock, so it neither
  // writes the job's progress nor saves a version).
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const id of jobIds) {
      const reason: JobCancel = { id, code: 'WORKER_LOST', message: `this run of job ${id} lost its lock (its worker stalled past JOB_LOCK_MS, or Redis lost the job): it stopped, and the job runs again elsewhere` };
      if (worker.cancelJob(id, JSON.stringify(reason))) logger.warn({ jobId: id }, 'a training run lost its job\'s lock: stopping it (the job runs again elsewhere)');
    }
  });
  // A job cancelled while this worker runs it (DELETE /v1/jobs/{id}, or its model deleted): its
  // training process hears of it and stops within about a second. One missed while this
  // connection was down trains on, but its save refuses while the job's mark is there.
  const cancels = await openRedis(settings.REDIS_URL, 'subscriber');
  cancels.on('message', (_channel: string, text: string) => {
    let id: unknown;
    try {
      id = (JSON.parse(text) as Partial<JobCancel>).id;
    } catch {
      return;
    }
    if (typeof id === 'string' && worker.cancelJob(id, text)) logger.info({ jobId: id }, 'training cancelled: stopping it');
  });
  await cancels.subscribe(redisKeys.jobCancels);
  await worker.waitUntilReady();
  logger.info({ queue: QUEUE_NAME, concurrency: settings.WORKER_CONCURRENCY }, 'nce-ood worker ready');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // Jobs this worker runs now: an idle worker has nothing to finish or hand back.
    const active = worker.runningJobs();
    logger.info({ signal, graceMs: settings.WORKER_SHUTDOWN_MS, activeJobs: active }, active > 0 ? 'shutting down: finishing the active job' : 'shutting down');
    const handBack = setTimeout(() => {
      logger.warn('active job not finished in time: handing it back to the queue');
      process.exit(1);
    }, settings.WORKER_SHUTDOWN_MS);
    // With no job running nothing is lost by leaving: only a Redis that does not answer could hold
    // the close, and the worker then goes after IDLE_SHUTDOWN_MS, not the whole grace. A job that
    // started meanwhile keeps the whole grace.
    const idleExit = setTimeout(() => {
      if (worker.runningJobs() > 0) return;
      logger.warn({ redis: connection.status }, 'Redis did not answer the shutdown in time: exiting without it');
      process.exit(0);
    }, Math.min(IDLE_SHUTDOWN_MS, settings.WORKER_SHUTDOWN_MS));
    void worker
      .close()
      .then(() => Promise.all([connection.quit(), cancels.quit()]))
      .then(() => metricsServer?.close())
      .finally(() => {
        clearTimeout(handBack);
        clearTimeout(idleExit);
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** One finished run of a job (a retried failure counts each time). */
function count(metrics: TrainingMetrics, outcome: TrainingOutcome, job: { processedOn?: number; finishedOn?: number } | undefined): void {
  metrics.trainingJobs.inc({ outcome });
  if (job?.processedOn) metrics.trainingDuration.observe({ outcome }, ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
}

/** GET /metrics for Prometheus; anything else is a 404. */
function serveMetrics(metrics: TrainingMetrics, port: number): Server {
  return createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
  }).listen(port);
}

main().catch((e: unknown) => {
  // Redis unreachable at start (after waiting for it): one line naming the cause, not a stack trace.
  process.stderr.write(`nce-ood worker: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
