import { isArtifactFault } from '../nce';
import type { LoadedModel, ModelStore } from './model-store';

/** One version of a model as the versions list shows it. */
export interface VersionSummary {
  version: string;
  current: boolean;
  /** Why the quality gate kept it from being current, or null (always on the current version, a candidate promoted by hand included). */
  candidate: string | null;
  createdAt?: string;
  valAuc?: number;
  trainRows?: number;
  /** Why it cannot be loaded (its files are damaged or incomplete). */
  damaged?: string;
}

/**
 * How the model lists show a model: its current version; or, when the quality gate kept every
 * version back, none and its newest candidate; or null when it has no version any more (deleted
 * since its name was listed).
 */
export async function listedModel(store: ModelStore, name: string): Promise<{ version: string } | { version: null; candidate: string } | null> {
  const version = await store.currentVersion(name);
  if (version !== null) return { version };
  const candidate = (await store.versions(name)).at(-1);
  return candidate === undefined ? null : { version: null, candidate };
}

/**
 * Every version of a model, oldest first: current, candidate (with the gate's reason) or damaged
 * (with why). `load` reads a version (default: the store's load; a caller may cache, since a
 * version never changes). Empty when the model has no version.
 */
export async function describeVersions(store: ModelStore, name: string, load: (name: string, version: string) => Promise<Pick<LoadedModel, 'manifest'>> = (n, v) => store.load(n, v)): Promise<VersionSummary[]> {
  const current = await store.currentVersion(name);
  const ids = await store.versions(name);
  let listed: Promise<string[]> | undefined;
  const described = await Promise.all(
    ids.map(async (version): Promise<VersionSummary | null> => {
      // A candidate promoted by hand is accepted: the current version is never shown as held back.
      const candidate = version === current ? null : await store.candidateReason(name, version);
      try {
        const { manifest } = await load(name, version);
        return { version, current: version === current, candidate, createdAt: manifest.createdAt, valAuc: manifest.training.valAuc, trainRows: manifest.training.trainRows };
      } catch (e: unknown) {
        // Deleted while listed (the model's delete, retention's pruning): gone, not damaged.
        listed ??= store.versions(name);
        if (!(await listed).includes(version)) return null;
        // A store that failed to answer says nothing of the version: the listing fails (503).
        if (!isArtifactFault(e)) throw e;
        return { version, current: version === current, candidate, damaged: e.message };
      }
    }),
  );
  return described.filter((v) => v !== null);
}
