import type { BackendName } from '../nce';
import type { QualityGate } from '../queue';

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
