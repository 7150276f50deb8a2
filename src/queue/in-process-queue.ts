import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { type Artifact, type BackendName, fromArtifact, messageOf } from '../nce';
import { type DatasetStore, KeyedSerial, type ModelStore, writeFileAtomic } from '../store';
import { enqueuedAt, type JobError, jobError, type JobFilter, type JobInfo, type JobPayload, type JobQueue, type JobState, selectJobs } from './job-queue';
import { type QualityGate, runTrainJob, type TrainInput } from './train-job';
import type { TrainingThreadInput, TrainingThreadMessage } from './training-thread';
import { withDeadline } from '../deadline';

/** Finished jobs kept for `GET /v1/jobs/{id}`. */
const KEEP_FINISHED = 1000;

/** How often a job record that could not be written (a full or read-only disk) is written again. */
const RESAVE_MS = 2000;

/** The compiled worker script (under ts-jest this file runs from src/, the worker from dist/). */
function workerScript(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '..', '..', 'dist', 'src', 'queue', 'training-thread.js') : join(__dirname, 'training-thread.js');
}

/**
 * The embedded mode's queue: jobs run one at a time, each training in a worker thread so the API's
 * event loop keeps scoring. With a `journal` directory every job is kept there as `<id>.json`,
 * rewritten atomically at each change: after a restart {@link InProcessQueue.restore} shows the
 * finished jobs again and runs the unfinished ones from the start (training is deterministic for a
 * seed), as the distributed queue hands a dead worker's job to another.
 */
export class InProcessQueue implements JobQueue {
  private readonly jobs = new Map<string, JobInfo>();
  private readonly waiting: string[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  /** Dedupe key -> the job enqueued with it, and back (the journal keeps a job's key). */
  private readonly deduped = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  /** Runs of a job that a shutdown stopped (the journal keeps them): they do not count against JOB_ATTEMPTS. */
  private readonly shutdownStops = new Map<string, number>();
  private readonly writes = new KeyedSerial();
  /** The thread training the running job, while it trains. */
  private training: Worker | null = null;
  /** Set when close() stopped the running job: it is left in the journal as it was, not failed. */
  private interrupted = false;
  /**
   * Jobs whose last record write failed: written again every RESAVE_MS until one lands, so that a
   * job answered failed or completed is not found running by the next start and run again.
   */
  private readonly unsaved = new Set<string>();
  private resaving: NodeJS.Timeout | null = null;
  /** The running job asked to stop (see {@link cancel}), and why: it fails with that. */
  private cancelling: { id: string; reason: JobError } | null = null;

  constructor(
    private readonly deps: {
      datasets: DatasetStore;
      models: ModelStore;
      logger: Logger;
      backend?: BackendName;
      /** A new version must pass this to become current; otherwise it is kept as a candidate. */
      gate?: QualityGate;
      /** Versions kept per model (see MODEL_KEEP_VERSIONS); all when absent. */
      keepVersions?: number;
      /** Most values (rows x feature columns) of a dataset trained on (MAX_TRAINING_VALUES). */
      maxValues?: number;
      onFinished?: (job: JobInfo, seconds: number) => void;
      /** Directory the jobs are kept in; without one they live in memory only. */
      journal?: string;
      /**
       * Runs a job gets across restarts (JOB_ATTEMPTS): one that was interrupted that many times
       * fails as WORKER_LOST instead of running again, so a job that brings the process down does
       * not do so at every start. Unbounded when absent.
       */
      attempts?: number;
    },
  ) {}

  /**
   * Loads the journal: finished jobs are shown again, queued and interrupted ones run again in
   * the order they were enqueued. Returns how many will run.
   */
  async restore(): Promise<number> {
    const dir = this.deps.journal;
    if (!dir) return 0;
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    const stored: (JobInfo & { dedupeKey?: string; shutdownStops?: number })[] = [];
    for (const f of files) {
      try {
        const record = JSON.parse(await readFile(join(dir, f), 'utf8')) as unknown;
        if (!isJobRecord(record)) throw new Error('not a job record');
        stored.push(record);
      } catch (e: unknown) {
        this.deps.logger.warn({ file: f, err: messageOf(e) }, 'unreadable job record skipped');
      }
    }
    // Oldest first, as they were enqueued: the oldest finished jobs are the first forgotten.
    stored.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const unfinished: JobInfo[] = [];
    for (const { dedupeKey, shutdownStops, ...job } of stored) {
      if (this.jobs.has(job.id)) continue;
      this.jobs.set(job.id, job);
      if (shutdownStops) this.shutdownStops.set(job.id, shutdownStops);
      if (job.state !== 'queued' && job.state !== 'running') continue;
      unfinished.push(job);
      if (dedupeKey !== undefined) {
        this.deduped.set(dedupeKey, job.id);
        this.keys.set(job.id, dedupeKey);
      }
    }
    let restored = 0;
    for (const job of unfinished) {
      if (job.state === 'running') {
        const runs = job.attempts ?? 1;
        // Runs a graceful shutdown stopped are not lost to a crash: they do not count.
        if (this.deps.attempts !== undefined && runs - (this.shutdownStops.get(job.id) ?? 0) >= this.deps.attempts) {
          this.fail(job, { code: 'WORKER_LOST', message: `the process stopped ${runs} times while running this job (a crash or a kill), as many as JOB_ATTEMPTS allows; train again, and check the logs and memory limits if it crashed` });
          this.deps.logger.error({ jobId: job.id, runs }, 'job interrupted by a restart too often: failed');
          this.deps.onFinished?.(job, 0);
          continue;
        }
        job.attempts = runs + 1;
        this.deps.logger.warn({ jobId: job.id }, 'job interrupted by a restart: running it again');
      }
      restored++;
      job.state = 'queued';
      job.progress = [];
      delete job.startedAt;
      this.waiting.push(job.id);
      this.save(job);
    }
    this.pump();
    return restored;
  }

  /**
   * Queues a write of the job's record (writes of one job land in order). A failed one is logged
   * (once until one lands) and tried again, with the job as it is then, every RESAVE_MS.
   */
  private save(job: JobInfo): void {
    this.record(job).then(
      () => {
        if (this.unsaved.delete(job.id)) this.deps.logger.info({ jobId: job.id, state: job.state }, 'job record saved again');
      },
      (e: unknown) => {
        if (!this.unsaved.has(job.id)) this.deps.logger.error({ jobId: job.id, err: messageOf(e) }, 'job record not saved: trying again every few seconds');
        this.unsaved.add(job.id);
        this.resaveLater();
      },
    );
  }

  private resaveLater(): void {
    if (this.resaving || !this.deps.journal) return;
    this.resaving = setTimeout(() => {
      this.resaving = null;
      for (const id of [...this.unsaved]) {
        const job = this.jobs.get(id);
        if (job) this.save(job);
        else this.unsaved.delete(id);
      }
    }, RESAVE_MS);
    this.resaving.unref();
  }

  /** Writes the job's record to the journal, after any earlier write of it. */
  private record(job: JobInfo): Promise<void> {
    const dir = this.deps.journal;
    if (!dir) return Promise.resolve();
    const text = JSON.stringify({ ...job, dedupeKey: this.keys.get(job.id), shutdownStops: this.shutdownStops.get(job.id) });
    return this.writes.run(job.id, () => writeFileAtomic(join(dir, `${job.id}.json`), text));
  }

  private forget(job: JobInfo): void {
    this.jobs.delete(job.id);
    this.keys.delete(job.id);
    this.shutdownStops.delete(job.id);
    const dir = this.deps.journal;
    if (dir) void this.writes.run(job.id, () => rm(join(dir, `${job.id}.json`), { force: true })).catch(() => undefined);
  }

  now(): Promise<Date> {
    return Promise.resolve(new Date());
  }

  async enqueue(payload: JobPayload, options: { dedupeKey?: string } = {}): Promise<JobInfo & { created: boolean }> {
    if (this.closed) throw new Error('the queue is closed');
    const key = options.dedupeKey;
    const pending = key === undefined ? undefined : this.jobs.get(this.deduped.get(key) ?? '');
    if (pending && (pending.state === 'queued' || pending.state === 'running')) return { ...pending, created: false };
    const job: JobInfo = { id: randomUUID(), state: 'queued', payload, progress: [], createdAt: new Date().toISOString() };
    this.jobs.set(job.id, job);
    if (key !== undefined) {
      this.deduped.set(key, job.id);
      this.keys.set(job.id, key);
    }
    // Recorded before it is queued: an accepted job is one a restart finds. A journal that cannot
    // be written (a full or read-only disk) refuses the job with the store's error instead.
    try {
      await this.record(job);
    } catch (e: unknown) {
      this.jobs.delete(job.id);
      this.keys.delete(job.id);
      if (key !== undefined && this.deduped.get(key) === job.id) this.deduped.delete(key);
      throw e;
    }
    // Cancelled while its record was written (the job list shows it from the start): it has failed
    // for good and never runs. Queued anyway, it trained and promoted its version after its cancel
    // had answered 202 (an outside probe: 141 of 150 jobs cancelled within milliseconds).
    if (job.state !== 'queued') return { ...job, created: true };
    this.waiting.push(job.id);
    this.pump();
    return { ...job, created: true };
  }

  async get(id: string): Promise<JobInfo | null> {
    return this.jobs.get(id) ?? null;
  }

  async list(filter: JobFilter): Promise<JobInfo[]> {
    return selectJobs(this.jobs.values(), filter);
  }

  async counts(): Promise<Record<JobState, number>> {
    const counts: Record<JobState, number> = { queued: 0, running: 0, completed: 0, failed: 0 };
    for (const j of this.jobs.values()) counts[j.state]++;
    return counts;
  }

  /**
   * Stops a job: a queued one fails at once; a running one's training thread is ended, and it fails
   * once its run has settled (a run already saving its version finishes, and is returned completed).
   */
  async cancel(id: string, reason: JobError): Promise<JobInfo | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.state === 'queued') {
      const at = this.waiting.indexOf(id);
      if (at >= 0) this.waiting.splice(at, 1);
      this.fail(job, reason);
      this.deps.onFinished?.(job, 0);
    } else if (job.state === 'running') {
      // A second cancel while the first stops it (its model deleted meanwhile): the first reason stands.
      if (this.cancelling?.id !== id) this.cancelling = { id, reason };
      this.deps.logger.info({ jobId: id, code: reason.code }, 'job cancelled: stopping its training');
      // This job's run: once it settles the next job may start, which this must not wait for.
      const run = this.running;
      // Training now: its thread ends here. Before its thread starts, trainInWorker refuses to start one.
      await this.training?.terminate();
      await run;
    }
    // Answered once the journal says failed (or the write failed, and is tried again): a crash
    // right after the answer would otherwise find the job queued, and run it at the next start.
    await this.writes.run(id, async () => undefined);
    return this.jobs.get(id) ?? null;
  }

  /** Marks a job failed with `error` and records it. */
  private fail(job: JobInfo, error: JobError): void {
    job.state = 'failed';
    job.error = error;
    job.finishedAt = new Date().toISOString();
    this.save(job);
  }

  /**
   * Waits for the running job, for up to `graceMs` (without end when absent); a job still training
   * then is stopped and stays in the journal as interrupted, like queued jobs, for the next start.
   */
  async close(graceMs?: number): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    const running = this.running;
    if (running && graceMs !== undefined) {
      // (running never rejects: run() settles every job itself.)
      const finished = await withDeadline(running, graceMs, () => new Error('grace over')).then(() => true, () => false);
      if (!finished) {
        // Stopped where it is: training now, or before its thread starts (still reading its
        // dataset: trainInWorker then refuses to start one). A job saving its version finishes.
        this.interrupted = true;
        this.deps.logger.warn('shutdown: the running training job is stopped; it runs again at the next start');
        await this.training?.terminate();
      }
    }
    await this.running;
    await this.writes.idle();
    if (this.resaving) clearTimeout(this.resaving);
    this.resaving = null;
    // A last try for records that could not be written: what is not written now, the next start
    // finds as it was last written.
    for (const id of this.unsaved) {
      const job = this.jobs.get(id);
      if (job) await this.record(job).then(() => this.unsaved.delete(id), () => undefined);
    }
  }

  private pump(): void {
    if (this.running) return;
    // Only a job still queued runs: one that failed meanwhile (cancelled) is passed over.
    let job: JobInfo | undefined;
    while (job?.state !== 'queued') {
      if (this.waiting.length === 0) return;
      job = this.jobs.get(this.waiting.shift() as string);
    }
    this.running = this.run(job).finally(() => {
      this.running = null;
      this.forgetOld();
      this.pump();
    });
  }

  private async run(job: JobInfo): Promise<void> {
    job.state = 'running';
    job.startedAt = new Date().toISOString();
    this.save(job);
    const t0 = Date.now();
    try {
      switch (job.payload.kind) {
        case 'train':
          job.result = await runTrainJob(job.payload, {
            datasets: this.deps.datasets,
            models: this.deps.models,
            ...(this.deps.gate ? { gate: this.deps.gate } : {}),
            ...(this.deps.keepVersions === undefined ? {} : { keepVersions: this.deps.keepVersions }),
            ...(this.deps.maxValues === undefined ? {} : { maxValues: this.deps.maxValues }),
            trainer: async (input) => {
              const artifact = await this.trainInWorker(job, input);
              // Cancelled as its thread finished: nothing is saved (the run fails with the cancellation's reason).
              if (this.cancelling?.id === job.id) throw new Error('cancelled as its training ended');
              return artifact;
            },
          }, job.id, enqueuedAt(job.payload, Date.parse(job.createdAt)));
          break;
      }
      job.state = 'completed';
    } catch (e: unknown) {
      // Stopped by a shutdown: the journal keeps it as running, so the next start runs it again.
      // Not one cancelled meanwhile: its cancellation was answered, and it stays failed.
      if (this.interrupted && this.cancelling?.id !== job.id) {
        this.shutdownStops.set(job.id, (this.shutdownStops.get(job.id) ?? 0) + 1);
        this.save(job);
        return;
      }
      job.state = 'failed';
      job.error = this.cancelling?.id === job.id ? this.cancelling.reason : jobError(e);
      this.deps.logger.warn({ jobId: job.id, code: job.error.code }, 'job failed');
    } finally {
      if (this.cancelling?.id === job.id) this.cancelling = null;
    }
    job.finishedAt = new Date().toISOString();
    this.save(job);
    this.deps.onFinished?.(job, (Date.now() - t0) / 1000);
  }

  private trainInWorker(job: JobInfo, input: TrainInput): Promise<Artifact> {
    if (this.interrupted) return Promise.reject(new Error('stopped by a shutdown before training started'));
    if (this.cancelling?.id === job.id) return Promise.reject(new Error('cancelled before training started'));
    return new Promise((resolve, reject) => {
      const worker = new Worker(workerScript(), { workerData: { ...input, backend: this.deps.backend } satisfies TrainingThreadInput });
      this.training = worker;
      let settled = false;
      worker.on('message', (m: TrainingThreadMessage) => {
        if (m.type === 'epoch') {
          job.progress.push(m.progress);
          this.save(job);
        } else if (m.type === 'done') {
          settled = true;
          const weights = Buffer.from(m.weights);
          // Verified like any stored artifact before it is saved.
          fromArtifact(m.manifest, weights);
          resolve({ manifest: JSON.parse(m.manifest), weights });
          void worker.terminate();
        } else {
          settled = true;
          reject(new AppError(m.code, m.message));
          void worker.terminate();
        }
      });
      worker.on('error', (e) => {
        if (!settled) reject(e);
      });
      worker.on('exit', (code) => {
        if (this.training === worker) this.training = null;
        if (!settled) reject(new Error(`training thread exited with code ${code}`));
      });
    });
  }

  private forgetOld(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state === 'completed' || j.state === 'failed');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.forget(j);
  }
}

/** A job record as the journal holds it (anything else in the directory is skipped). */
function isJobRecord(v: unknown): v is JobInfo & { dedupeKey?: string } {
  const r = v as Partial<JobInfo> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.createdAt === 'string' &&
    ['queued', 'running', 'completed', 'failed'].includes(r.state as string) &&
    typeof r.payload === 'object' &&
    r.payload !== null &&
    Array.isArray(r.progress)
  );
}
