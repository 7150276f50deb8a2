import { AppError, isErrorCode } from '../errors';
import { randomBytes } from 'node:crypto';
import type { Artifact, Manifest, ModelState } from '../nce';

/** Names of models and datasets: no path separators, no dots up front, no NUL, at most 64 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Version ids: UTC time to the millisecond plus random hex, so they sort by age. */
export const VERSION_PATTERN = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

let lastVersionMs = 0;

/**
 * A new, sortable, unique version id (strictly later than the previous one from this process), at
 * `nowMs`: the store's clock, so that versions saved from different hosts sort by when they were saved.
 */
export function newVersionId(nowMs = Date.now()): string {
  lastVersionMs = Math.max(nowMs, lastVersionMs + 1);
  const t = new Date(lastVersionMs).toISOString().replace(/[-:.]/g, '');
  return `${t.slice(0, 15)}${t.slice(15, 18)}Z-${randomBytes(3).toString('hex')}`;
}

/** The error `promote` throws for a version that does not exist. */
export function versionNotFound(name: string, version: string): AppError {
  return new AppError('VERSION_NOT_FOUND', `model "${name}" has no version "${version}"`);
}

/** A stored model version, verified on load. */
export interface LoadedModel {
  name: string;
  version: string;
  manifest: Manifest;
  state: ModelState;
}

/** The model registry: versions of named models and which one is current. */
export interface ModelStore {
  /** Names of models that have a current version. */
  list(): Promise<string[]>;
  /** Names of every model with a version: those of {@link list}, and those whose only versions are candidates (refused by the quality gate). */
  names(): Promise<string[]>;
  /** Version ids of a model, oldest first. */
  versions(name: string): Promise<string[]>;
  /** The current version id, or null when the model does not exist. */
  currentVersion(name: string): Promise<string | null>;
  /** Loads and verifies one version (throws NceError ARTIFACT_* when it is damaged). */
  load(name: string, version: string): Promise<LoadedModel>;
  /**
   * Stores a new version; returns its id. It becomes current unless `candidate` gives the reason
   * it did not (a failed quality gate), which is kept beside it.
   */
  save(name: string, artifact: Artifact, options?: SaveOptions): Promise<string>;
  /**
   * Whether {@link ModelStore.save} makes the version current in the same step as it stores it
   * (Redis: one script). Where it does not (files: the folder, then the pointer), a process that
   * died between the two left a version that passed the gate and is not current.
   */
  readonly savesCurrentAtOnce: boolean;
  /**
   * The version a job saved, newest first, or null: a job run again after a crash (between
   * saving its version and finishing) finds its own version instead of adding another.
   */
  versionOfJob(name: string, jobId: string): Promise<string | null>;
  /** Why a version was kept as a candidate, or null. */
  candidateReason(name: string, version: string): Promise<string | null>;
  /** Makes an existing version current (a rollback when it is older). */
  promote(name: string, version: string): Promise<void>;
  /**
   * Deletes the oldest versions beyond the newest `keep`, never the current one, the newest
   * version before it, nor those in `spare` (the version that was current before a save: the one
   * a rollback goes back to, older than the newest when the model had been rolled back); returns
   * the versions deleted.
   */
  prune(name: string, keep: number, spare?: readonly string[]): Promise<string[]>;
  /**
   * Deletes a model and all its versions; false when there was none. Either way it records when
   * (see {@link deletedAt}), so a training job enqueued before cannot bring the model back.
   */
  delete(name: string): Promise<boolean>;
  /**
   * When the model was last deleted (asked to be, whether or not it had versions), or null; a
   * deletion is remembered for {@link DELETION_MEMORY_MS}.
   */
  deletedAt(name: string): Promise<Date | null>;
  /**
   * Whether a version could be written now: 'ok', or 'full' (no space left) or 'read-only'
   * (not writable); throws when the store is unreachable.
   */
  writable(): Promise<StoreWritability>;
}

/** How {@link ModelStore.save} stores a version. */
export interface SaveOptions {
  /** Why the version is kept as a candidate instead of becoming current (a failed quality gate). */
  candidate?: string;
  /** The job that trained it, recorded beside it for {@link ModelStore.versionOfJob}. */
  jobId?: string;
  /**
   * Refuse (MODEL_DELETED, nothing saved) when the model was deleted at or after this time (to the
   * millisecond): checked in the same atomic step as the write, so a delete that lands while a job
   * finishes wins.
   */
  unlessDeletedAfter?: Date;
  /**
   * Save only while this key exists (the training job's record in the distributed queue): a run
   * whose job the queue no longer has (another worker took it over, or Redis came back empty)
   * saves nothing (WORKER_LOST). Checked in the write itself; stores without a queue ignore it.
   */
  whileExists?: string;
  /**
   * With `whileExists`, the value that key must hold: the run's token in the job's lock, so that a
   * run the worker gave up on (the job failed, or ran again elsewhere) saves nothing (WORKER_LOST).
   */
  holding?: string;
  /**
   * Refuse while this key exists (the job's cancellation mark, see `BullMqQueue.cancel`), failing
   * with the code and message it holds: a run that missed the announcement saves nothing either.
   * Checked in the write itself; stores without a queue ignore it.
   */
  unlessCancelled?: string;
}

/** The failure a cancellation mark (a JobCancel as JSON: the code and message its job fails with) stands for. */
export function cancelledBy(mark: unknown): AppError {
  let cancel: { code?: unknown; message?: unknown } = {};
  try {
    cancel = JSON.parse(String(mark)) as typeof cancel;
  } catch {
    // Not ours (BullMQ's own cancellations carry words): cancelled all the same.
  }
  return new AppError(isErrorCode(cancel.code) ? cancel.code : 'JOB_CANCELLED', typeof cancel.message === 'string' ? cancel.message : `the job was cancelled: ${String(mark)}`);
}

/**
 * What `save` throws when another run of the same job (`jobId`) already saved a version: nothing
 * is saved again, so one job makes one version; `version` is the one it made.
 */
export class SavedByAnotherRun extends Error {
  constructor(readonly version: string) {
    super(`another run of this job already saved version ${version}`);
  }
}

/** The error `save` throws when the model was deleted after `unlessDeletedAfter`. */
export function deletedMeanwhile(name: string): AppError {
  return new AppError('MODEL_DELETED', `model "${name}" was deleted after this job was enqueued (while it waited or trained): nothing was saved`);
}

/** What {@link ModelStore.writable} finds. */
export type StoreWritability = 'ok' | 'full' | 'read-only';

/**
 * The versions {@link ModelStore.prune} deletes: oldest first, beyond the newest `keep`, sparing
 * the current one, the newest before it, and `spare` (the version that was current before the one
 * just saved: after a rollback, an older one than the newest before it).
 */
export function versionsToPrune(versions: readonly string[], current: string | null, keep: number, spare: readonly string[] = []): string[] {
  const sorted = [...versions].sort();
  const spared = new Set<string>([...sorted.slice(Math.max(0, sorted.length - keep)), ...spare]);
  if (current !== null) {
    spared.add(current);
    const before = sorted.filter((v) => v < current).pop();
    if (before !== undefined) spared.add(before);
  }
  return sorted.filter((v) => !spared.has(v));
}

/** How long a deletion is remembered (see {@link ModelStore.deletedAt}): longer than any training job waits and runs. */
export const DELETION_MEMORY_MS = 7 * 24 * 3600 * 1000;
