import type { BackendName } from '../nce';

/** What every command gets from the process: its validated settings. */
export interface CliContext {
  /** Forced tfjs backend (TF_BACKEND), or undefined to pick the best available. */
  backend?: BackendName;
  /** The model registry directory (MODELS_DIR). */
  modelsDir: string;
}
