import { describe } from '../errors';
import { type EpochProgress, messageOf } from '../nce';

/** A training request: train `model` on the stored `dataset` with `config`. */
export interface TrainJobPayload {
  kind: 'train';
  model: string;
  dataset: string;
  config: unknown;
  /** Promote the new version even if its features differ from the current version's. */
  allowSchemaChange?: boolean;
  /** What enqueued it besides a train request: the model's schedule, or drift that stayed high. */
  trigger?: 'schedule' | 'drift';
  /** Of a scheduled job: when its schedule was created (`ScheduleInfo.since`), which tells its runs from an earlier, deleted schedule's. */
  scheduleSince?: string;
  /** Of a drift retrain: the version served when drift stayed high on it (its retrains that left it served set its backoff, see DriftRetrainer). */
  servedVersion?: string;
}

/**
 * When a job counts as enqueued, against its model's deletion (a job enqueued before it saves
 * nothing): a scheduled run from its schedule's creation, on the store's clock; any other job when
 * it was enqueued (`createdAtMs`). A scheduled run is made by whichever host fires the schedule, on
 * that host's clock; the schedule goes with its model, so its runs all come before a deletion,
 * and a schedule made after one is newer than it.
 */
export function enqueuedAt(payload: TrainJobPayload, createdAtMs: number): Date {
  const since = payload.trigger === 'schedule' && payload.scheduleSince !== undefined ? Date.parse(payload.scheduleSince) : NaN;
  return new Date(Number.isNaN(since) ? createdAtMs : since);
}

/** Every job payload; switch on `kind`. */
export type JobPayload = TrainJobPayload;

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

/** A finished training job: the new version; `promoted` false when the quality gate kept it as a candidate, with the reason. */
export interface JobResult {
  model: string;
  version: string;
  promoted: boolean;
  reason?: string;
  /** True when the records and config were the current version's: no new version was saved, `version` is the current one. */
  unchanged?: boolean;
  /** The trained version's `training.warnings`, when it has any. */
  warnings?: string[];
}

/** Why a job failed: an error code (see `ErrorCode`) and what happened. */
export interface JobError {
  code: string;
  message: string;
}

/**
 * How a job that threw `e` shows its failure: the error's code and what happened, in words (a
 * full disk as the condition it is, not a raw errno); an unexpected error with its own message,
 * which only the job's reader sees.
 */
export function jobError(e: unknown): JobError {
  const described = describe(e);
  return { code: described.code, message: described.code === 'INTERNAL' ? messageOf(e) : described.message };
}

/** A job as `GET /v1/jobs/{id}` shows it. */
export interface JobInfo {
  id: string;
  state: JobState;
  payload: JobPayload;
  progress: EpochProgress[];
  /** Runs so far (more than one when a transient failure was retried). */
  attempts?: number;
  result?: JobResult;
  error?: JobError;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** Which jobs {@link JobQueue.list} returns. */
export interface JobFilter {
  model?: string;
  state?: JobState;
  limit: number;
}

/**
 * Which of two states a job seen in both is taken to be in: a finished one (a job does not leave
 * it), else the first seen (queued and running follow each other both ways: a run starts, a lost
 * or retried run goes back to the queue).
 */
const STATE_ORDER: Record<JobState, number> = { queued: 0, running: 0, completed: 1, failed: 1 };

/**
 * The jobs a filter selects from a collection of them: newest first, progress left out, each job
 * once (see {@link STATE_ORDER}): states read one by one can catch a job moving between two of
 * them in both (an outside probe: one job listed running and completed).
 */
export function selectJobs(jobs: Iterable<JobInfo>, filter: JobFilter): JobInfo[] {
  const latest = new Map<string, JobInfo>();
  for (const j of jobs) {
    const seen = latest.get(j.id);
    if (seen === undefined || STATE_ORDER[j.state] > STATE_ORDER[seen.state]) latest.set(j.id, j);
  }
  const picked: JobInfo[] = [];
  for (const j of latest.values()) if ((filter.model === undefined || j.payload.model === filter.model) && (filter.state === undefined || j.state === filter.state)) picked.push(j);
  picked.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  return picked.slice(0, filter.limit).map((j) => ({ ...j, progress: [] }));
}

/** Training jobs: enqueued by the API, run off the API's event loop. */
export interface JobQueue {
  /**
   * Adds a job. With `dedupeKey`, while a job enqueued with the same key is still queued or
   * running, that job is returned instead of adding another (`created` false).
   */
  enqueue(payload: JobPayload, options?: { dedupeKey?: string }): Promise<JobInfo & { created: boolean }>;
  get(id: string): Promise<JobInfo | null>;
  /**
   * Now, on the clock jobs' `createdAt` is read from, and a model's deletion time (the store's):
   * Redis's in distributed mode, whatever host asks.
   */
  now(): Promise<Date>;
  /** Jobs newest first, at most `limit`, those of `model` and in `state` when given (per-epoch progress left out). */
  list(filter: JobFilter): Promise<JobInfo[]>;
  /**
   * How many jobs are in each state (finished ones as far as they are kept). Distributed mode
   * also counts `delayed` apart: jobs waiting for their time (a schedule's next run, a retry's
   * backoff), which are not in `queued` here though `GET /v1/jobs` lists them as queued. `queued`
   * counts the jobs that will train: a cancelled one that waits for a worker to fail it is left out.
   */
  counts(): Promise<Record<JobState, number> & { delayed?: number }>;
  /**
   * Stops a queued or running job: it fails with `reason`'s code and message, and saves nothing.
   * A queued job fails at once where the queue runs jobs itself (embedded), else when a worker
   * takes it; a running one at the end of its current epoch (embedded: at once). Returns the job
   * as it stands after the request (a finished one unchanged), or null when there is no such job.
   */
  cancel(id: string, reason: JobError): Promise<JobInfo | null>;
  /**
   * Stops taking jobs and waits for the running one, for up to `graceMs` where the queue runs jobs
   * itself (embedded): a job still running then is stopped and left to run again at the next start.
   */
  close(graceMs?: number): Promise<void>;
}
