import { type BackendName, isArtifactFault, NceError } from '../nce';
import type { QualityGate } from '../queue';
import { FsModelStore, type LoadedModel } from '../store';
import { AppError } from '../errors';

/** What every command gets from the process: its validated settings. */
export interface CliContext {
  /** Forced tfjs backend (TF_BACKEND), or undefined to pick the best available. */
  backend?: BackendName;
  /** The model registry directory (MODELS_DIR). */
  modelsDir: string;
  /** The quality gate `train --model` applies, as the service does (QUALITY_GATE_*). */
  gate: QualityGate;
  /** Versions kept per model (MODEL_KEEP_VERSIONS). */
  keepVersions: number;
  /** Records below which `report` shows no drift for its file, as the console does (DRIFT_MIN_RECORDS). */
  driftMinRecords: number;
}

/**
 * The current version of registry model `name` in `ctx.modelsDir`, loaded and verified. A model not
 * there is MODEL_NOT_FOUND (`hint` said after it); a damaged version is named, model and version,
 * with what to do, as the service's 503 names them.
 */
export async function loadCurrent(ctx: CliContext, name: string, hint = ''): Promise<{ version: string; loaded: LoadedModel }> {
  const store = new FsModelStore(ctx.modelsDir);
  const version = await store.currentVersion(name);
  if (version === null) throw new AppError('MODEL_NOT_FOUND', `no model "${name}" in ${ctx.modelsDir} (MODELS_DIR)${hint}`);
  try {
    return { version, loaded: await store.load(name, version) };
  } catch (e: unknown) {
    if (!isArtifactFault(e)) throw e;
    throw new NceError(e.code, `model "${name}" version ${version} cannot be loaded: ${e.message}; make another version current (nce-ood train --model ${name}, or the service's promote) or restore the folder`, { cause: e });
  }
}
