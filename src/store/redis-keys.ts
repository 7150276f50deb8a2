/**
 * Every Redis key the service writes, in one place. Names reaching here match NAME_PATTERN
 * (letters, digits, `_`, `-`), so a name can never add a `:` segment to a key.
 */
export const KEY_PREFIX = 'nce-ood';

export const redisKeys = {
  /** Set of model names. */
  models: `${KEY_PREFIX}:models`,
  /** Sorted set (all scores 0, so lexical order = time order) of a model's version ids. */
  versions: (model: string) => `${KEY_PREFIX}:model:${model}:versions`,
  /** The current version id. */
  current: (model: string) => `${KEY_PREFIX}:model:${model}:current`,
  /** Hash of one version: `manifest`, `weights`, and `candidate` when the gate kept it back. */
  version: (model: string, version: string) => `${KEY_PREFIX}:model:${model}:v:${version}`,
  /** When the model was last deleted (milliseconds since the epoch), kept for a week. */
  deleted: (model: string) => `${KEY_PREFIX}:deletion:${model}`,
  /** Written by readiness checks, to see whether Redis takes writes (it expires at once). */
  readyProbe: `${KEY_PREFIX}:ready-probe`,
  /** Pub/sub channel announcing `{ model, version }` whenever a model's current version changes. */
  modelEvents: `${KEY_PREFIX}:model-events`,
  /** Set of dataset names. */
  datasets: `${KEY_PREFIX}:datasets`,
  /** Hash: `columns` (JSON) and `updatedAt`. */
  datasetMeta: (name: string) => `${KEY_PREFIX}:dataset:${name}:meta`,
  /** List of records, one JSON object each, oldest first. */
  datasetRows: (name: string) => `${KEY_PREFIX}:dataset:${name}:rows`,
  /** Sorted set of the keys of the dataset's latest appends, scored by their order (see `AppendOptions.key`). */
  datasetAppendKeys: (name: string) => `${KEY_PREFIX}:dataset:${name}:append-keys`,
  /** A model's schedule is being changed (a PUT or DELETE of it, on any replica): a token, with a short expiry. */
  scheduleLock: (model: string) => `${KEY_PREFIX}:schedule-lock:${model}`,
  /** A training job asked to stop: its {@link JobCancel} as JSON, kept for a week (a worker reads it as it starts a run, and a run's save refuses while it is there). */
  jobCancel: (id: string) => `${KEY_PREFIX}:job-cancel:${id}`,
  /** Pub/sub channel on which a {@link JobCancel} reaches the worker running that job. */
  jobCancels: `${KEY_PREFIX}:job-cancels`,
};

/** What is published on `redisKeys.jobCancels` and kept at `redisKeys.jobCancel`: the job, and the code and message it fails with. */
export interface JobCancel {
  id: string;
  code: string;
  message: string;
}

/** How long a job's cancellation is kept: as long as the queue keeps finished jobs. */
export const JOB_CANCEL_TTL_SECONDS = 7 * 24 * 3600;

/** What is published on `redisKeys.modelEvents`. */
export interface ModelEvent {
  model: string;
  /** The new current version, or null when the model was deleted. */
  version: string | null;
}
