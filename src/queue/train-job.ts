import { type Artifact, type BackendName, type DataRecord, type EpochProgress, fingerprintRecords, NceError, toArtifact, train } from '../nce';
import type { DatasetStore, ModelStore } from '../store';
import type { JobResult, TrainJobPayload } from './job-queue';

/** When a retrained version may replace the current one. */
export interface QualityGate {
  minValAuc: number;
  maxAucDrop: number;
}

/** What training needs besides the config: the dataset's records and columns. */
export interface TrainInput {
  records: DataRecord[];
  columns: string[];
  config: unknown;
}

/** Trains and packs an artifact, on the backend already initialised in this thread or process. */
export async function trainArtifact(input: TrainInput, backend: BackendName | string, onEpoch: (p: EpochProgress) => void): Promise<Artifact> {
  const result = await train(input.records, input.config, { columns: input.columns, onEpoch });
  return toArtifact(result, { datasetFingerprint: fingerprintRecords(input.records, input.columns), datasetRows: input.records.length, backend });
}

/**
 * One training job, the same in both modes: read the dataset, train (`trainer` decides where),
 * store the version, current only if it passes the quality gate, else a candidate with the reason.
 */
export async function runTrainJob(
  payload: TrainJobPayload,
  deps: { datasets: DatasetStore; models: ModelStore; gate?: QualityGate; trainer: (input: TrainInput) => Promise<Artifact> },
): Promise<JobResult> {
  const { records, info } = await deps.datasets.records(payload.dataset);
  const artifact = await deps.trainer({ records, columns: info.columns, config: payload.config });
  const candidate = await gateFailure(deps.models, payload.model, artifact, deps.gate);
  const version = await deps.models.save(payload.model, artifact, candidate === null ? {} : { candidate });
  return { model: payload.model, version, promoted: candidate === null, ...(candidate === null ? {} : { reason: candidate }) };
}

/** Why `artifact` fails the gate against the model's current version, or null when it passes. */
export async function gateFailure(models: ModelStore, name: string, artifact: Artifact, gate: QualityGate | undefined): Promise<string | null> {
  if (!gate) return null;
  const auc = artifact.manifest.training.valAuc;
  if (!(auc >= gate.minValAuc)) return `validation AUC ${auc.toFixed(4)} is below the gate's minimum ${gate.minValAuc}`;
  const current = await models.currentVersion(name);
  if (current === null) return null;
  let currentAuc: number;
  try {
    currentAuc = (await models.load(name, current)).manifest.training.valAuc;
  } catch {
    return null;
  }
  if (auc < currentAuc - gate.maxAucDrop) return `validation AUC ${auc.toFixed(4)} is more than ${gate.maxAucDrop} below the current version's ${currentAuc.toFixed(4)}`;
  return null;
}

/** Codes of failures that retrying cannot fix: the input is wrong, not the infrastructure. */
const PERMANENT = new Set(['INVALID_ARGUMENT', 'INVALID_CONFIG', 'INVALID_RECORD', 'INSUFFICIENT_DATA', 'DATASET_NOT_FOUND']);

/** The stable code of a job failure. */
export function failureCode(e: unknown): string {
  if (e instanceof NceError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'INTERNAL';
}

/** True when a failure is the job's own fault and must not be retried. */
export function isPermanentFailure(e: unknown): boolean {
  return PERMANENT.has(failureCode(e));
}
