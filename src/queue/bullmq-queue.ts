import { randomUUID } from 'node:crypto';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ErrorCode } from '../errors';
import type { EpochProgress } from '../nce';
import { type JobCancel, JOB_CANCEL_TTL_SECONDS, redisKeys, redisNowMs } from '../store';
import { type JobError, type JobFilter, type JobInfo, type JobPayload, type JobQueue, type JobResult, type JobState, selectJobs } from './job-queue';

/** The BullMQ queue the API enqueues training on and `npm run worker` consumes. */
export const QUEUE_NAME = 'training';

/** Key prefix of the queue's Redis keys (beside the registry's `nce-ood:` keys). */
export const QUEUE_PREFIX = 'nce-ood:bull';

/** Retries with backoff for transient failures; bounded history for `GET /v1/jobs/{id}`. */
export function jobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
  };
}

/** What the processor reports as progress: every epoch so far. */
export interface JobProgress {
  epochs: EpochProgress[];
}

/**
 * Where a run of job `id` stands in BullMQ's keys: the job's record and its lock, which holds the
 * run's token while the worker tracks that run. The worker can give a run up while its training
 * process trains on (a write Redis refused, a lock it could not renew, the job taken over or
 * Redis come back empty): such a run must neither save nor write the job's progress.
 */
export function runKeys(id: string, token: string | undefined): { job: string; lock: string; token: string | undefined } {
  const job = `${QUEUE_PREFIX}:${QUEUE_NAME}:${id}`;
  return { job, lock: `${job}:lock`, token };
}

/**
 * Writes a run's progress into its job, only while the job exists and its lock holds the run's
 * token (when it has one): an HSET into a job whose record Redis lost (evicted, deleted) made a
 * record of progress alone, which every job listing then read (an outside probe: 500s).
 */
const RUN_PROGRESS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
`;

/**
 * Writes a run's progress from its training process, on that process's connection: sent to the
 * worker instead (a sandboxed job's updateProgress), a write Redis refused there failed the whole
 * run while the process trained on, and the worker handed the busy process the job's next run.
 * Whether Redis took it is not waited for: a refused one is skipped, the next epoch writes again.
 */
export function writeRunProgress(redis: Redis, run: ReturnType<typeof runKeys>, progress: JobProgress): Promise<void> {
  return redis.eval(RUN_PROGRESS, 2, run.job, run.lock, JSON.stringify(progress), run.token ?? '').then(() => undefined, () => undefined);
}

/** How the processor spells a failure in `failedReason`, so the code survives the trip. */
export function failedReason(code: string, message: string): string {
  return `[${code}] ${message}`;
}

const REASON = /^\[([A-Z_]+)\] ([\s\S]*)$/;

/** The error code a failed reason starts with (see {@link failedReason}), if any. */
export function failureCode(reason: string): string | undefined {
  return REASON.exec(reason)?.[1];
}

/** Distributed mode's queue: jobs live in Redis, workers anywhere run them. */
export class BullMqQueue implements JobQueue {
  constructor(
    private readonly queue: Queue<JobPayload, JobResult>,
    private readonly attempts: number,
    /** The connection cancellations are kept and published on (see {@link BullMqQueue.cancel}). */
    private readonly redis: Redis,
  ) {}

  async enqueue(payload: JobPayload, options: { dedupeKey?: string } = {}): Promise<JobInfo & { created: boolean }> {
    const id = randomUUID();
    const job = await this.queue.add(payload.kind, payload, {
      ...jobOptions(this.attempts),
      jobId: id,
      // Redis's clock, not this host's: a job enqueued before a model's deletion (also timed by
      // Redis) must read as such on every host, or it could train the deleted model back.
      timestamp: await redisNowMs(this.redis),
      // BullMQ's simple deduplication: ignored while the first job is not completed or failed.
      ...(options.dedupeKey === undefined ? {} : { deduplication: { id: options.dedupeKey } }),
    });
    // A deduplicated add hands back the pending job's id instead of this one.
    const created = job.id === id;
    const stored = await this.get(job.id as string);
    return { ...(stored ?? toJobInfo(job, 'queued')), created };
  }

  async now(): Promise<Date> {
    return new Date(await redisNowMs(this.redis));
  }

  async get(id: string): Promise<JobInfo | null> {
    // State first: a job that completes between the two reads then shows as running, never as
    // completed without its result.
    const state = await this.queue.getJobState(id);
    // Unknown ids (BullMQ's own key names among them) are never read as job hashes.
    if (state === 'unknown') return null;
    const job = await Job.fromId<JobPayload, JobResult>(this.queue, id);
    if (!job || !isWhole(job)) return null;
    return toJobInfo(job, stateOf(state));
  }

  async list(filter: JobFilter): Promise<JobInfo[]> {
    const states: JobState[] = filter.state ? [filter.state] : ['queued', 'running', 'completed', 'failed'];
    // Each state's newest jobs (BullMQ keeps at most 1,000 finished ones of each kind), then the
    // filter over all of them: the model is not indexed.
    const found = await Promise.all(
      states.map(async (state) => (await this.queue.getJobs(BULL_STATES[state], 0, KEPT_PER_STATE - 1, false)).filter((j): j is Job<JobPayload, JobResult> => Boolean(j) && isWhole(j)).map((j) => toJobInfo(j, state))),
    );
    return selectJobs(found.flat(), filter);
  }

  async counts(): Promise<Record<JobState, number> & { delayed: number }> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed');
    const n = (k: string): number => c[k] ?? 0;
    const waiting = n('waiting') + n('prioritized') + n('waiting-children');
    return { queued: waiting - (await this.cancelledWaiting(waiting)), delayed: n('delayed'), running: n('active'), completed: n('completed'), failed: n('failed') };
  }

  /**
   * How many of the waiting jobs were cancelled: each waits, first in line, for a worker to fail it
   * without training, and would otherwise count against MAX_QUEUED_JOBS until then (all workers
   * busy: as long as their runs), so cancelling queued jobs would not make room. Read among the
   * first {@link KEPT_PER_STATE} in line of each kind, where {@link cancel} moves them.
   */
  private async cancelledWaiting(waiting: number): Promise<number> {
    if (waiting === 0) return 0;
    const ids = await this.queue.getRanges(['waiting', 'prioritized'], 0, KEPT_PER_STATE - 1, true);
    if (ids.length === 0) return 0;
    const marks = await this.redis.mget(ids.map(redisKeys.jobCancel));
    return Math.min(waiting, marks.filter((m) => m !== null).length);
  }

  /**
   * Marks the job cancelled (for a week; a job cancelled already keeps its first reason) and tells the workers: the one running it stops it at the
   * next turn of its event loop (about a second), and its save refuses while the mark is there. A queued job is moved to run
   * next (a delayed one, such as a schedule's next run, at once), where a worker fails it without
   * training, and lets go of its deduplication key, so a drift retrain can be enqueued anew. A job
   * that finished is left as it is.
   */
  async cancel(id: string, reason: JobError): Promise<JobInfo | null> {
    const before = await this.get(id);
    if (!before || before.state === 'completed' || before.state === 'failed') return before;
    // The first cancel's reason stands: a job cancelled (202) and then its model deleted before a
    // worker failed it still fails JOB_CANCELLED, not MODEL_DELETED (an outside probe). Said again
    // to the workers, and the job moved again, in case the first cancel stopped before doing so.
    const mark = JSON.stringify({ id, ...reason } satisfies JobCancel);
    const standing = (await this.redis.eval(KEEP_FIRST_CANCEL, 1, redisKeys.jobCancel(id), mark, JOB_CANCEL_TTL_SECONDS)) as string;
    await this.redis.publish(redisKeys.jobCancels, standing);
    const job = await Job.fromId<JobPayload, JobResult>(this.queue, id);
    if (job && before.state === 'queued') {
      // Each a move the job may have made meanwhile (taken by a worker, fired): the mark holds it then.
      await job.removeDeduplicationKey().catch(() => false);
      await (this.queue.getJobState(id).then((state) => (state === 'delayed' ? job.promote() : job.changePriority({ lifo: true }))) as Promise<void>).catch(() => undefined);
    }
    return (await this.get(id)) ?? before;
  }

  /** Closes this process's connection; jobs stay queued for the workers. */
  async close(): Promise<void> {
    await this.queue.close();
  }
}

/**
 * Sets a job's cancel mark (ARGV[1]) for ARGV[2] seconds unless one is there, whose expiry it
 * renews; returns the mark that stands. One script: a mark expiring between a refused SET NX and
 * the GET after it would leave the job unmarked after a 202.
 */
const KEEP_FIRST_CANCEL = `
local set = redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX')
if set then return ARGV[1] end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
`;

/** Most jobs read per state when listing: as many finished ones as the queue keeps. */
const KEPT_PER_STATE = 1000;

/** BullMQ's states behind each of ours. */
const BULL_STATES: Record<JobState, ('waiting' | 'delayed' | 'prioritized' | 'waiting-children' | 'active' | 'completed' | 'failed')[]> = {
  queued: ['waiting', 'delayed', 'prioritized', 'waiting-children'],
  running: ['active'],
  completed: ['completed'],
  failed: ['failed'],
};

function stateOf(s: string): JobState {
  if (s === 'active') return 'running';
  if (s === 'completed' || s === 'failed') return s;
  return 'queued';
}

/**
 * BullMQ's reasons for a job failed because its runs were all lost: its workers lost more often
 * than the worker's `maxStalledCount`, or a run refused for starting beyond its
 * `maxStartedAttempts` (JOB_ATTEMPTS runs). Either way BullMQ starts the job once more only to fail it.
 */
const ALL_RUNS_LOST = /(stalled|started) more than allowable limit/;

/**
 * The exit code of a training process that ended itself after a WebAssembly trap (EX_SOFTWARE): its
 * backend is unusable, and BullMQ would hand it every later job.
 */
export const TRAPPED_EXIT_CODE = 70;

/** BullMQ's reason for a run whose sandboxed training process died (V8 out of heap aborts; an OOM kill is SIGKILL). */
const PROCESS_DIED = /Unexpected exit code: (\S+) signal: (\S+)/;

const WORKER_LOST: { code: ErrorCode; message: string } = {
  code: 'WORKER_LOST',
  message: 'the workers running this job were lost (killed, or stopped before it finished) at each of its JOB_ATTEMPTS runs; train again, and check the workers for crashes or memory limits',
};

/**
 * The runs a job had: BullMQ counts a run its worker was lost in (a stall) only in
 * attemptsStarted, not in attemptsMade. A job failed for starting beyond JOB_ATTEMPTS
 * (maxStartedAttempts), or for stalling beyond its limit (BullMQ marks the failure, and a worker
 * starts the job once more only to fail it), is counted there once more, though that start never
 * ran (an outside probe: 4 attempts of 3 after three lost runs).
 */
export function runsOf(job: Pick<Job, 'attemptsMade' | 'attemptsStarted' | 'failedReason'>): number {
  const reason = job.failedReason ?? '';
  return Math.max(job.attemptsMade, (job.attemptsStarted ?? 0) - (ALL_RUNS_LOST.test(reason) ? 1 : 0));
}

/**
 * Whether a job's record is whole: its time of creation and its payload. Redis can lose part of
 * one (an evicting memory policy, a key deleted by hand, a write landing after the record went):
 * such a job is no job the API can show, and one of them must not fail a whole listing.
 */
function isWhole(job: Job<JobPayload, JobResult>): boolean {
  const data = job.data as Partial<JobPayload> | undefined;
  return Number.isFinite(job.timestamp) && job.timestamp > 0 && typeof data === 'object' && data !== null && typeof data.model === 'string';
}

function toJobInfo(job: Job<JobPayload, JobResult>, state: JobState): JobInfo {
  const progress = job.progress as Partial<JobProgress> | number;
  const info: JobInfo = {
    id: job.id as string,
    state,
    payload: job.data,
    progress: typeof progress === 'object' && Array.isArray(progress.epochs) ? progress.epochs : [],
    attempts: runsOf(job),
    createdAt: new Date(job.timestamp).toISOString(),
  };
  if (job.processedOn) info.startedAt = new Date(job.processedOn).toISOString();
  if (job.finishedOn && (state === 'completed' || state === 'failed')) info.finishedAt = new Date(job.finishedOn).toISOString();
  if (state === 'completed') info.result = job.returnvalue;
  if (state === 'failed') {
    const reason = job.failedReason ?? '';
    const m = REASON.exec(reason);
    const died = PROCESS_DIED.exec(reason);
    info.error = m
      ? { code: m[1] as string, message: m[2] as string }
      : ALL_RUNS_LOST.test(reason)
        ? WORKER_LOST
        : died?.[1] === String(TRAPPED_EXIT_CODE)
          ? { code: 'WORKER_LOST', message: 'the training process handed this job\'s last run was ending, after a WebAssembly trap in the job it ran before (a fresh process takes the next job); train again' }
          : died
          ? { code: 'WORKER_LOST', message: `the training process died (exit code ${died[1]}, signal ${died[2]}: SIGABRT is V8 out of heap, SIGKILL an OOM kill) at each of its JOB_ATTEMPTS runs; give the workers more memory (worker.heapMegabytes), or train on fewer values (MAX_TRAINING_VALUES)` }
          : { code: 'INTERNAL', message: job.failedReason ?? 'failed' };
  }
  return info;
}
