import { type Artifact, type BackendName, type DataRecord, type EpochProgress, type Feature, featureColumns, fingerprintRecords, type Manifest, resolveTrainingConfig, SCORE_FLOOR, toArtifact, train } from '../nce';
import { AppError } from '../errors';
import { type DatasetStore, deletedMeanwhile, type ModelStore, SavedByAnotherRun } from '../store';
import type { JobResult, TrainJobPayload } from './job-queue';

/** When a retrained version may replace the current one. */
export interface QualityGate {
  minValAuc: number;
  maxAucDrop: number;
}

/**
 * Nats per held-out row a model's NCE loss may exceed that of its noise alone before the gate
 * refuses it: above that, training made the model worse than its own starting point (p = q).
 */
export const GATE_LOSS_SLACK = 0.01;

/** What training needs besides the config: the dataset's records and columns. */
export interface TrainInput {
  records: DataRecord[];
  columns: string[];
  config: unknown;
}

/** Trains and packs an artifact, on the backend already initialised in this thread or process. */
export async function trainArtifact(input: TrainInput, backend: BackendName | string, onEpoch: (p: EpochProgress) => void, signal?: AbortSignal): Promise<Artifact> {
  const result = await train(input.records, input.config, { columns: input.columns, onEpoch, ...(signal ? { signal } : {}) });
  return toArtifact(result, { datasetFingerprint: fingerprintRecords(input.records, input.columns), datasetRows: input.records.length, backend });
}

/**
 * Why a dataset of `rows` records and `features` feature columns is too large to train on (more
 * than `maxValues` values: the process that trains holds every record), or null.
 */
export function trainingTooLarge(dataset: string, rows: number, features: number, maxValues: number): string | null {
  if (rows * features <= maxValues) return null;
  return `dataset "${dataset}" holds ${rows} records of ${features} feature columns, ${rows * features} values; training takes at most ${maxValues} (MAX_TRAINING_VALUES), since the process that trains holds every record: keep at most ${Math.floor(maxValues / features)} rows (appends take ?maxRows=), or leave columns out with exclude`;
}

/**
 * One training job, the same in both modes: read the dataset, train (`trainer` decides where),
 * store the version, current only if it passes the quality gate, else a candidate with the reason.
 * A job run again after its process died finds the version it had already saved (by `jobId`)
 * and finishes that one instead of training and saving another. A delete of the model after the
 * job was enqueued (`enqueuedAt`) wins: nothing is saved.
 */
export async function runTrainJob(
  payload: TrainJobPayload,
  deps: { datasets: DatasetStore; models: ModelStore; gate?: QualityGate; keepVersions?: number; maxValues?: number; trainer: (input: TrainInput) => Promise<Artifact> },
  jobId?: string,
  enqueuedAt?: Date,
  /**
   * Distributed mode's guards of the save: the job's lock (or record), which must still exist and
   * hold this run's token, and its cancellation mark, which must not (see `SaveOptions`).
   */
  guard: { whileExists?: string | undefined; holding?: string | undefined; unlessCancelled?: string | undefined } = {},
): Promise<JobResult> {
  const { model } = payload;
  const saved = jobId === undefined ? null : await deps.models.versionOfJob(model, jobId);
  if (saved !== null) return finishSavedVersion(deps.models, model, saved);
  // Deleted while this job waited or trained (a model's first training too): the delete wins, the
  // model does not come back. Checked before training too: a job queued behind others when its
  // model was deleted fails at once instead of training for nothing. A deletion in the job's own
  // millisecond counts as after it: a schedule's last run, fired as the delete took the schedule
  // away, is enqueued within a millisecond of the deletion.
  const deletedSince = async (): Promise<boolean> => enqueuedAt !== undefined && ((await deps.models.deletedAt(model))?.getTime() ?? -Infinity) >= enqueuedAt.getTime();
  if (await deletedSince()) throw deletedMeanwhile(model);
  const existed = (await deps.models.versions(model)).length > 0;
  // Before reading it: a dataset grown by appends since the request (a schedule's, a drift
  // retrain's) would otherwise bring the training process down on every attempt.
  if (deps.maxValues !== undefined) {
    const known = await deps.datasets.info(payload.dataset);
    const tooLarge = known && trainingTooLarge(payload.dataset, known.rows, featureColumns(known.columns, resolveTrainingConfig(payload.config).exclude).length, deps.maxValues);
    if (tooLarge) throw new AppError('DATASET_TOO_LARGE', tooLarge);
  }
  const { records, info } = await deps.datasets.records(payload.dataset);
  // The same records and config as the current version's (a schedule firing on unchanged data):
  // nothing new to train or keep.
  const before = await currentVersionOf(deps.models, model);
  const fingerprint = fingerprintRecords(records, info.columns);
  if (before && trainedOn(before.manifest, fingerprint, payload.config)) return unchangedResult(model, before);
  const again = await refusedAgain(deps.models, model, fingerprint, payload.config, deps.gate, { current: before, ...(payload.allowSchemaChange ? { allowSchemaChange: true } : {}) });
  if (again) return again;
  const artifact = await deps.trainer({ records, columns: info.columns, config: payload.config });
  if ((await deletedSince()) || (existed && (await deps.models.versions(model)).length === 0)) throw deletedMeanwhile(model);
  const current = await currentVersionOf(deps.models, model);
  // The same training made current while this one trained: nothing new to keep either. Unless it
  // is this job's own, saved by a run of it that stalled past its lock (Redis stopped, the process
  // paused) while this one trained: that version is the job's, and new.
  if (current && sameTraining(current.manifest, artifact.manifest)) {
    const savedMeanwhile = jobId === undefined ? null : await deps.models.versionOfJob(model, jobId);
    return savedMeanwhile === null ? unchangedResult(model, current) : finishSavedVersion(deps.models, model, savedMeanwhile);
  }
  const warnings = artifact.manifest.training.warnings ? { warnings: artifact.manifest.training.warnings } : {};
  const stored = await storeVersion(deps.models, model, artifact, {
    current,
    ...(deps.gate ? { gate: deps.gate } : {}),
    ...(payload.allowSchemaChange ? { allowSchemaChange: true } : {}),
    ...(jobId === undefined ? {} : { jobId }),
    ...(deps.keepVersions === undefined ? {} : { keepVersions: deps.keepVersions }),
    // Checked again as the version is written: a delete while the gate loaded the current version wins.
    ...(enqueuedAt === undefined ? {} : { unlessDeletedAfter: enqueuedAt }),
    ...(guard.whileExists === undefined ? {} : { whileExists: guard.whileExists }),
    ...(guard.holding === undefined ? {} : { holding: guard.holding }),
    ...(guard.unlessCancelled === undefined ? {} : { unlessCancelled: guard.unlessCancelled }),
  });
  return { ...stored, ...warnings };
}

/**
 * Stores a trained artifact as a new version of `model`, as a training job does (and `nce-ood
 * train --model`): current when it passes {@link gateFailure} (or with `force`), else a candidate
 * with the reason; then the oldest versions beyond `keepVersions` go.
 */
export async function storeVersion(
  models: ModelStore,
  model: string,
  artifact: Artifact,
  options: { gate?: QualityGate; allowSchemaChange?: boolean; force?: boolean; jobId?: string; keepVersions?: number; current?: CurrentVersion | null; unlessDeletedAfter?: Date; whileExists?: string; holding?: string; unlessCancelled?: string },
): Promise<JobResult> {
  const candidate = options.force ? null : await gateFailure(models, model, artifact.manifest, options.gate, { ...(options.allowSchemaChange ? { allowSchemaChange: true } : {}), ...(options.current === undefined ? {} : { current: options.current }) });
  // The version served before this save: the rollback retention keeps, even when older than the newest.
  const before = options.keepVersions === undefined ? null : options.current === undefined ? await models.currentVersion(model) : (options.current?.version ?? null);
  let version: string;
  try {
    version = await models.save(model, artifact, {
      ...(candidate === null ? {} : { candidate }),
      ...(options.jobId === undefined ? {} : { jobId: options.jobId }),
      ...(options.unlessDeletedAfter === undefined ? {} : { unlessDeletedAfter: options.unlessDeletedAfter }),
      ...(options.whileExists === undefined ? {} : { whileExists: options.whileExists }),
      ...(options.holding === undefined ? {} : { holding: options.holding }),
      ...(options.unlessCancelled === undefined ? {} : { unlessCancelled: options.unlessCancelled }),
    });
  } catch (e: unknown) {
    // A worker that stalled past its lock trained on while another ran the job again: one saved
    // first; this run's version is not kept, and the job's result is that one.
    if (e instanceof SavedByAnotherRun) return finishSavedVersion(models, model, e.version);
    throw e;
  }
  // Retention is housekeeping: a failure here leaves old versions for the next save to remove.
  if (options.keepVersions !== undefined) await models.prune(model, options.keepVersions, before === null ? [] : [before]).catch(() => undefined);
  return { model, version, promoted: candidate === null, ...(candidate === null ? {} : { reason: candidate }) };
}

/**
 * The result of a job whose version a run of it saved before its process died or stalled: a
 * candidate stays one. A version that passed the gate was made current by that save where the
 * store does so in the same step (Redis), and whatever is current now stands: an operator's
 * rollback since is not undone (an outside probe: a rerun promoted the version again after a 200
 * answered the rollback). Where it takes two steps (files; the in-process queue reruns the job
 * after a restart, when no request can have come between), the version becomes current unless a
 * newer one already is, or nothing is (a first training). With the version's warnings, as the run
 * that saved it would have answered (none where its artifact cannot be read).
 */
async function finishSavedVersion(models: ModelStore, model: string, version: string): Promise<JobResult> {
  const reason = await models.candidateReason(model, version);
  if (reason === null) {
    const current = await models.currentVersion(model);
    if (current === null || (!models.savesCurrentAtOnce && current < version)) await models.promote(model, version);
  }
  const warnings = await models.load(model, version).then(
    (m) => m.manifest.training.warnings,
    () => undefined,
  );
  return { model, version, ...(reason === null ? { promoted: true } : { promoted: false, reason }), ...(warnings ? { warnings } : {}) };
}

/**
 * How a retrained model's features differ from the current version's (names, kinds, and whether a
 * feature may be missing; not their order), every difference, or null when they agree: new categories
 * are not a change.
 */
export function schemaChange(current: readonly Feature[], next: readonly Feature[]): string | null {
  const names = (fs: readonly Feature[]): string[] => fs.map((f) => f.name);
  const [was, now] = [names(current), names(next)];
  const list = (ns: string[]): string => ns.map((n) => `"${n}"`).join(', ');
  const removed = was.filter((n) => !now.includes(n));
  const added = now.filter((n) => !was.includes(n));
  const moved = [...(removed.length ? [`removed ${list(removed)}`] : []), ...(added.length ? [`added ${list(added)}`] : [])];
  const changes = moved.length > 0 ? [`features ${moved.join('; ')}`] : [];
  // Not their order: clients send fields by name, and each version reads them by its own schema.
  const kept = now.filter((n) => was.includes(n));
  // A column empty in every record has no kind of its own (see inferSchema): the current version
  // flags every value there as never seen. Once it fills, the new version scores its values and
  // refuses those of another kind (texts in a numeric column): what clients may send changes, as
  // with any change of kind, so the gate holds it too.
  const empty = (f: Feature): boolean => f.kind === 'categorical' && f.categories.length === 0 && f.hasOther === false;
  for (const name of kept) {
    const before = current.find((f) => f.name === name) as Feature;
    const after = next.find((f) => f.name === name) as Feature;
    if (empty(before) && empty(after)) continue;
    if (empty(before)) changes.push(`feature "${name}" was empty in every record (any value flagged as never seen) and is now ${after.kind}`);
    else if (empty(after)) changes.push(`feature "${name}" was ${before.kind} and is now empty in every record (any value will be flagged as never seen)`);
    else if (before.kind !== after.kind) changes.push(`feature "${name}" was ${before.kind} and is now ${after.kind}`);
    else if (before.hasMissing !== after.hasMissing) changes.push(`feature "${name}" ${after.hasMissing ? 'now has' : 'no longer has'} missing values`);
  }
  return changes.length > 0 ? changes.join('; ') : null;
}

/**
 * Why a version of `manifest` may not replace the model's current version, or null when it may: its features
 * differ from the current version's (SCHEMA_CHANGED, unless `allowSchemaChange`), its held-out loss
 * is worse than its noise alone, or the gate's AUC rules refuse it.
 */
export async function gateFailure(
  models: ModelStore,
  name: string,
  manifest: Manifest,
  gate: QualityGate | undefined,
  options: { allowSchemaChange?: boolean; current?: CurrentVersion | null } = {},
): Promise<string | null> {
  const currentManifest = (options.current === undefined ? await currentVersionOf(models, name) : options.current)?.manifest ?? null;
  if (currentManifest && !options.allowSchemaChange) {
    const change = schemaChange(currentManifest.schema, manifest.schema);
    if (change) return `${SCHEMA_CHANGED}: ${change}; train with "allowSchemaChange": true to accept it`;
  }
  // Held-out records at the floor: no score can fall below the threshold, so nothing is ever flagged.
  if (!(manifest.calibration.threshold > SCORE_FLOOR)) {
    return `the ood threshold is at the score floor (${SCORE_FLOOR}): held-out reference records score that low, so no record could ever be flagged, however far out (a noise far narrower or wider than the data does this); train with the default noise`;
  }
  if (!gate) return null;
  const { valLoss, valLossNoise } = manifest.training;
  if (valLossNoise !== undefined && !(valLoss <= valLossNoise + GATE_LOSS_SLACK)) {
    return `held-out NCE loss ${valLoss.toFixed(4)} is above its noise's alone (${valLossNoise.toFixed(4)}): the model describes held-out records worse than q does`;
  }
  const auc = manifest.training.valAuc;
  if (!(auc >= gate.minValAuc)) return `validation AUC ${auc.toFixed(4)} is below the gate's minimum ${gate.minValAuc}`;
  if (!currentManifest) return null;
  const currentAuc = currentManifest.training.valAuc;
  if (auc < currentAuc - gate.maxAucDrop) return `validation AUC ${auc.toFixed(4)} is more than ${gate.maxAucDrop} below the current version's ${currentAuc.toFixed(4)}`;
  return null;
}

/** A model's current version with its manifest. */
export interface CurrentVersion {
  version: string;
  manifest: Manifest;
}

/** The current version and its manifest; null when there is none or it is damaged (nothing to compare with, nothing worth keeping). */
export async function currentVersionOf(models: ModelStore, name: string): Promise<CurrentVersion | null> {
  const version = await models.currentVersion(name);
  if (version === null) return null;
  try {
    return { version, manifest: (await models.load(name, version)).manifest };
  } catch {
    return null;
  }
}

/**
 * A training the quality gate refused before and would refuse again (a schedule firing after a
 * refusal, a config tried again): the candidate saved after the current version that was trained on
 * records of `fingerprint` with `config`, answered unchanged with the gate's reason as it stands
 * now. Training is deterministic (the config holds the seed), so it would only save a copy. Null
 * when there is none, or when the gate would pass it now (`allowSchemaChange`, another current
 * version): that training runs.
 */
export async function refusedAgain(
  models: ModelStore,
  model: string,
  fingerprint: string,
  config: unknown,
  gate: QualityGate | undefined,
  options: { current: CurrentVersion | null; allowSchemaChange?: boolean },
): Promise<JobResult | null> {
  for (const version of (await models.versions(model)).reverse()) {
    if (options.current !== null && version <= options.current.version) break;
    if ((await models.candidateReason(model, version)) === null) continue;
    const manifest = await models.load(model, version).then(
      (a) => a.manifest,
      () => null,
    );
    if (manifest === null || !trainedOn(manifest, fingerprint, config)) continue;
    const reason = await gateFailure(models, model, manifest, gate, { current: options.current, ...(options.allowSchemaChange ? { allowSchemaChange: true } : {}) });
    return reason === null ? null : { ...unchangedResult(model, { version, manifest }), promoted: false, reason };
  }
  return null;
}

/** Whether two versions were trained on the same records with the same resolved config: the newer one is nothing new to keep. */
export function sameTraining(a: Manifest, b: Manifest): boolean {
  return a.dataset.fingerprint === b.dataset.fingerprint && JSON.stringify(a.config) === JSON.stringify(b.config);
}

/**
 * Whether a version was trained on records of `fingerprint` with `config` (as given, resolved
 * here as training resolves it): a training that would repeat it need not run.
 * @throws NceError INVALID_CONFIG as training would
 */
export function trainedOn(m: Manifest, fingerprint: string, config: unknown): boolean {
  return m.dataset.fingerprint === fingerprint && JSON.stringify(m.config) === JSON.stringify(resolveTrainingConfig(config));
}

/** A training job's result when it repeated a stored version (the current one, or a refused candidate): that version, unchanged. */
function unchangedResult(model: string, current: CurrentVersion): JobResult {
  const warnings = current.manifest.training.warnings;
  return { model, version: current.version, promoted: true, unchanged: true, ...(warnings ? { warnings } : {}) };
}

/** The reason's prefix when a retrain's features differ from the current version's. */
export const SCHEMA_CHANGED = 'SCHEMA_CHANGED';
