import type { Artifact, Manifest, ModelState } from '../nce';

/** Names of models and datasets: no path separators, no dots up front, no NUL, at most 64 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

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
  save(name: string, artifact: Artifact, options?: { candidate?: string }): Promise<string>;
  /** Why a version was kept as a candidate, or null. */
  candidateReason(name: string, version: string): Promise<string | null>;
  /** Makes an existing version current (a rollback when it is older). */
  promote(name: string, version: string): Promise<void>;
  /** Deletes a model and all its versions; false when there was none. */
  delete(name: string): Promise<boolean>;
}
