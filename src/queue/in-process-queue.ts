import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type Artifact, type BackendName, fromArtifact } from '../nce';
import type { DatasetStore, ModelStore } from '../store';
import type { JobInfo, JobPayload, JobQueue, JobState } from './job-queue';
import { failureCode, type QualityGate, runTrainJob, type TrainInput } from './train-job';
import type { TrainWorkerInput, TrainWorkerMessage } from './train.worker';

/** Finished jobs kept for `GET /v1/jobs/{id}`. */
const KEEP_FINISHED = 1000;

/** The compiled worker script (under ts-jest this file runs from src/, the worker from dist/). */
function workerScript(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '..', '..', 'dist', 'src', 'queue', 'train.worker.js') : join(__dirname, 'train.worker.js');
}

/**
 * The embedded mode's queue: jobs run one at a time, each training in a worker thread so the API's
 * event loop keeps scoring. Job state lives in memory (a restart forgets queued jobs).
 */
export class InProcessQueue implements JobQueue {
  private readonly jobs = new Map<string, JobInfo>();
  private readonly waiting: string[] = [];
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly deps: {
      datasets: DatasetStore;
      models: ModelStore;
      logger: Logger;
      backend?: BackendName;
      /** A new version must pass this to become current; otherwise it is kept as a candidate. */
      gate?: QualityGate;
      onFinished?: (job: JobInfo, seconds: number) => void;
    },
  ) {}

  private readonly deduped = new Map<string, string>();

  async enqueue(payload: JobPayload, options: { dedupeKey?: string } = {}): Promise<JobInfo> {
    if (this.closed) throw new Error('the queue is closed');
    const key = options.dedupeKey;
    const pending = key === undefined ? undefined : this.jobs.get(this.deduped.get(key) ?? '');
    if (pending && (pending.state === 'queued' || pending.state === 'running')) return pending;
    const job: JobInfo = { id: randomUUID(), state: 'queued', payload, progress: [], createdAt: new Date().toISOString() };
    this.jobs.set(job.id, job);
    if (key !== undefined) this.deduped.set(key, job.id);
    this.waiting.push(job.id);
    this.pump();
    return job;
  }

  async get(id: string): Promise<JobInfo | null> {
    return this.jobs.get(id) ?? null;
  }

  async counts(): Promise<Record<JobState, number>> {
    const counts: Record<JobState, number> = { queued: 0, running: 0, completed: 0, failed: 0 };
    for (const j of this.jobs.values()) counts[j.state]++;
    return counts;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    await this.running;
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    const job = this.jobs.get(this.waiting.shift() as string) as JobInfo;
    this.running = this.run(job).finally(() => {
      this.running = null;
      this.forgetOld();
      this.pump();
    });
  }

  private async run(job: JobInfo): Promise<void> {
    job.state = 'running';
    job.startedAt = new Date().toISOString();
    const t0 = Date.now();
    try {
      switch (job.payload.kind) {
        case 'train':
          job.result = await runTrainJob(job.payload, {
            datasets: this.deps.datasets,
            models: this.deps.models,
            ...(this.deps.gate ? { gate: this.deps.gate } : {}),
            trainer: (input) => this.trainInWorker(job, input),
          });
          break;
      }
      job.state = 'completed';
    } catch (e: unknown) {
      job.state = 'failed';
      job.error = { code: failureCode(e), message: e instanceof Error ? e.message : String(e) };
      this.deps.logger.warn({ jobId: job.id, code: job.error.code }, 'job failed');
    } finally {
      job.finishedAt = new Date().toISOString();
      this.deps.onFinished?.(job, (Date.now() - t0) / 1000);
    }
  }

  private trainInWorker(job: JobInfo, input: TrainInput): Promise<Artifact> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(workerScript(), { workerData: { ...input, backend: this.deps.backend } satisfies TrainWorkerInput });
      let settled = false;
      worker.on('message', (m: TrainWorkerMessage) => {
        if (m.type === 'epoch') {
          job.progress.push(m.progress);
        } else if (m.type === 'done') {
          settled = true;
          const weights = Buffer.from(m.weights);
          // Verified like any stored artifact before it is saved.
          fromArtifact(m.manifest, weights);
          resolve({ manifest: JSON.parse(m.manifest), weights });
          void worker.terminate();
        } else {
          settled = true;
          reject(Object.assign(new Error(m.message), { code: m.code }));
          void worker.terminate();
        }
      });
      worker.on('error', (e) => {
        if (!settled) reject(e);
      });
      worker.on('exit', (code) => {
        if (!settled) reject(new Error(`training thread exited with code ${code}`));
      });
    });
  }

  private forgetOld(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state === 'completed' || j.state === 'failed');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}
