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
  /** Stores a new version and makes it current; returns its id. */
  save(name: string, artifact: Artifact): Promise<string>;
}
