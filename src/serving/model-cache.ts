import type { Logger } from 'pino';
import { outageLog } from '../logger';
import { Detector, isArtifactFault, type Manifest, messageOf, modelFootprint, NceError } from '../nce';
import type { ModelStore } from '../store';
import { AppError, NoVersionError } from '../errors';
import { hasRoom, unloadBeyond } from './loaded-limits';

/** How long a model's current version is trusted before the store is asked again. */
export const REFRESH_MS = 1000;

/** What the metrics read of a version served: its name, version and manifest. */
export type ServedVersion = Pick<ServedModel, 'name' | 'version' | 'manifest'>;

/** A model ready to score. */
export interface ServedModel {
  name: string;
  version: string;
  manifest: Manifest;
  detector: Detector;
  /** Requests that hold it across an await (see {@link holdModel}). */
  holds: number;
  /** Swapped out, evicted or deleted: its detector goes with the last hold. */
  retired: boolean;
}

/**
 * Keeps a served model's detector alive across an await (a batch on a scoring thread, which may
 * come back to score in place): a swap, eviction or delete meanwhile retires the model, and its
 * detector is disposed when the last hold is let go. Returns the release; calling it twice is a no-op.
 */
export function holdModel(m: ServedModel): () => void {
  m.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    m.holds--;
    if (m.holds === 0 && m.retired) m.detector.dispose();
  };
}

/** Takes a model out of service: its detector is disposed now, or when the last hold is let go. */
function retire(m: ServedModel): void {
  if (m.retired) return;
  m.retired = true;
  if (m.holds === 0) m.detector.dispose();
}

interface Entry {
  served: ServedModel;
  checkedAt: number;
  /** About how much memory its detector holds ({@link modelFootprint}). */
  bytes: number;
}

/**
 * Keeps one loaded Detector per model and swaps in a new current version when the store names
 * one. Scoring in place is synchronous; a request that awaits with a model (a scoring thread)
 * holds it ({@link holdModel}), so a swapped-out detector is never disposed while in use. A
 * version that fails to load (a damaged artifact) is refused and the previous one keeps serving.
 * At most `maxModels` stay loaded, holding at most about `maxBytes` ({@link modelFootprint}):
 * loading one more evicts the least recently used until both hold (the one loaded always stays),
 * and a model evicted and asked for again loads again.
 */
export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<ServedModel>>();
  /** Models announced while a load of them ran: that load may have read the version before the change. */
  private readonly announcedDuringLoad = new Set<string>();
  /** Whether the registry's last answer was a failure to reach it. */
  private registryDown = false;
  /** The version of each model that failed to load, so it is not read and refused again every check. */
  private readonly refused = new Map<string, string>();
  /** Per model: the version whose refusal was last logged (each is logged once). */
  private readonly reported = new Map<string, string>();
  /** Evicted models whose new current version is being read for their metrics (see checkEvicted). */
  private readonly following = new Set<string>();
  /** The timer of {@link ModelCache.watch}. */
  private watching: ReturnType<typeof setInterval> | undefined;
  /** Models evicted (unloaded, still served) with the version they had: the watch follows them too. */
  private readonly evicted = new Map<string, string>();
  /** The registry's outages, logged once each (refreshes ask it every few seconds per model). */
  private readonly registryOutage: ReturnType<typeof outageLog>;

  constructor(
    private readonly store: ModelStore,
    private readonly logger: Logger,
    /**
     * A version starts serving (`previous`: the one it replaces, if loaded). Also for a model
     * unloaded to make room whose current version changed meanwhile (`onGone` 'evicted' follows):
     * its metrics then follow the registry, not its next request.
     */
    private readonly onSwap: (m: ServedVersion, previous: ServedVersion | undefined) => void = () => undefined,
    /**
     * A model no longer loaded: `deleted` (found gone, loaded or evicted), so its series go;
     * `evicted` (least recently used), so it is not in memory but still served, and its counters
     * stay (see `Metrics.unloaded`).
     */
    private readonly onGone: (name: string, why: 'evicted' | 'deleted') => void = () => undefined,
    private readonly maxModels = Infinity,
    /** Called at each tick of {@link ModelCache.watch}, for what follows the registry beside the cache. */
    private readonly onWatch: () => void = () => undefined,
    /** Most memory the loaded models may hold together, by {@link modelFootprint}: wide models are large (10 MB at 768 features). */
    private readonly maxBytes = Infinity,
  ) {
    this.registryOutage = outageLog(logger, { down: 'model registry unreachable: serving the loaded versions', up: 'model registry reachable again' });
  }

  /** The model to score with when it is loaded and recently checked; else undefined (use {@link ModelCache.get}). */
  fresh(name: string): ServedModel | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    // Most recently used last: the map's order is the eviction order.
    this.entries.delete(name);
    this.entries.set(name, entry);
    return Date.now() - entry.checkedAt < REFRESH_MS ? entry.served : undefined;
  }

  /**
   * The model to score with, loading or refreshing it as needed. A loaded model that is only due
   * for its periodic check is served at once and checked in the background: scoring it needs
   * nothing from the registry, and a registry that stalls (a Redis fork, a failover: up to
   * COMMAND_TIMEOUT_MS before a command fails) then holds up no request. Only a model announced as
   * changed (a promote or delete here, or one another replica published) waits for its load, so
   * that once such a change has answered, this replica scores with it.
   */
  async get(name: string): Promise<ServedModel> {
    const fresh = this.fresh(name);
    if (fresh) return fresh;
    const entry = this.entries.get(name);
    if (this.announcedDuringLoad.has(name)) {
      // Announced while a check was under way, which may have read the registry before the
      // change: that check, then the load the announcement starts once it ends.
      await this.loading.get(name)?.catch(() => undefined);
      return this.get(name);
    }
    if (entry && (entry.checkedAt > 0 || this.registryDown)) {
      this.load(name).catch(() => undefined);
      return entry.served;
    }
    return this.load(name);
  }

  /** Loads or refreshes a model, once at a time per model. */
  private load(name: string): Promise<ServedModel> {
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.refresh(name, this.entries.get(name)).finally(() => {
        this.loading.delete(name);
        if (this.announcedDuringLoad.delete(name)) this.announce(name);
      });
      this.loading.set(name, pending);
    }
    return pending;
  }

  /**
   * Asks the store every `ms` about each loaded model not checked since, scored or not, so what a
   * replica holds follows the registry even when nobody scores and an announcement was missed
   * (pub/sub drops messages while its connection is away, and a Redis that comes back empty
   * announces nothing): deleted models go, new versions come. Stopped by {@link ModelCache.dispose}.
   */
  watch(ms = REFRESH_MS): void {
    clearInterval(this.watching);
    this.watching = setInterval(() => {
      const now = Date.now();
      // Not through get(): that would count as a use and upset the eviction order. Checked at the
      // last tick, a few milliseconds after it, an entry is half a period old or more by this one.
      for (const [name, entry] of [...this.entries]) if (now - entry.checkedAt >= ms / 2) this.load(name).catch(() => undefined);
      for (const name of [...this.evicted.keys()]) void this.checkEvicted(name);
      this.onWatch();
    }, ms);
    this.watching.unref();
  }

  /**
   * An evicted model deleted meanwhile: what its metrics kept is over. Another version made current
   * meanwhile (a promote, a rollback): its metrics follow it now (the version served, its threshold
   * and expected flagged share, a fresh drift window), read from its manifest, while it stays
   * unloaded.
   */
  private async checkEvicted(name: string): Promise<void> {
    const version = this.evicted.get(name);
    if (version === undefined) return;
    const current = await this.store.currentVersion(name).catch(() => version);
    if (current === version || this.evicted.get(name) !== version) return;
    if (current === null) {
      this.evicted.delete(name);
      this.onGone(name, 'deleted');
      return;
    }
    // A damaged version is not read again at every check (see refresh); one read at a time.
    if (this.refused.get(name) === current || this.following.has(name)) return;
    this.following.add(name);
    try {
      const loaded = await this.store.load(name, current).catch((e: unknown) => {
        if (e instanceof NceError && e.code === 'ARTIFACT_TAMPERED') this.refused.set(name, current);
        return null;
      });
      // Loaded or changed again meanwhile: that load, or the next check, has it.
      if (!loaded || this.evicted.get(name) !== version) return;
      this.evicted.set(name, current);
      this.onSwap(loaded, undefined);
      this.onGone(name, 'evicted');
    } finally {
      this.following.delete(name);
    }
  }

  /**
   * A model's current version changed (a promote or delete here, or elsewhere: distributed mode's
   * pub/sub): no request scores with the loaded version without asking the store again, and the
   * new one is loaded now, in the background; announced during a load, once that load ends.
   */
  announce(name: string): void {
    // A load under way may have read the current version before this change: once it ends, the
    // store is asked again (promotes in quick succession must leave the last one served).
    const entry = this.entries.get(name);
    // 0: changed, not merely due for a check (see get): requests wait for the load.
    if (entry) entry.checkedAt = 0;
    if (this.loading.has(name)) {
      this.announcedDuringLoad.add(name);
      return;
    }
    if (!entry) {
      if (this.evicted.has(name)) {
        void this.checkEvicted(name);
        return;
      }
      // A model this cache never held (a new one, trained here or on another replica): loaded now
      // while the cache has room for it, so its served-version gauges (on which the dashboard's
      // model list and the flagged-rate alerts depend) are there before its first scoring (an
      // outside probe: a new model had none until scored). Only with room: fewer models than
      // MODEL_CACHE_MAX, and fewer bytes than MODEL_CACHE_MEGABYTES, held.
      if (hasRoom(this.entries, { count: this.maxModels, bytes: this.maxBytes })) this.get(name).catch(() => undefined);
      return;
    }
    this.get(name).catch(() => undefined);
  }

  /** Names of the models loaded now. */
  loaded(): string[] {
    return [...this.entries.keys()];
  }

  /** Unloads the least recently used models until at most `maxModels` stay, holding at most `maxBytes`; never the last one used. */
  private evictBeyondLimits(): void {
    unloadBeyond(this.entries, { count: this.maxModels, bytes: this.maxBytes }, (name, entry) => {
      retire(entry.served);
      this.evicted.set(name, entry.served.version);
      this.onGone(name, 'evicted');
      this.logger.info({ model: name, version: entry.served.version }, 'model unloaded (least recently used)');
    });
  }

  /** How many models are loaded now (evicted ones, still served, not counted). */
  get loadedCount(): number {
    return this.entries.size;
  }

  /** Whether {@link dispose} was called: the service is stopping, and nothing more is loaded. */
  get disposed(): boolean {
    return this.stopped;
  }

  private stopped = false;

  dispose(): void {
    this.stopped = true;
    clearInterval(this.watching);
    for (const e of this.entries.values()) retire(e.served);
    this.entries.clear();
  }

  private async refresh(name: string, loaded: Entry | undefined, again = true): Promise<ServedModel> {
    // The entry this refresh started from, while the cache still holds it: evicted meanwhile (the
    // watch refreshes idle models, the next to be evicted), its detector may be gone, so it is
    // neither handed out nor swapped out, and the model is loaded as if for the first time.
    const held = (): Entry | undefined => (loaded && this.entries.get(name) === loaded ? loaded : undefined);
    let version: string | null;
    try {
      version = await this.store.currentVersion(name);
      this.registryDown = false;
      this.registryOutage.up();
    } catch (e: unknown) {
      // The registry is unreachable (Redis down): keep scoring with the version we hold, if we still do.
      this.registryDown = true;
      const entry = held();
      if (!entry) throw new AppError('MODEL_UNAVAILABLE', `model "${name}" cannot be loaded: the model registry is unreachable`, undefined, { cause: e });
      this.registryOutage.down(messageOf(e));
      entry.checkedAt = Date.now();
      return entry.served;
    }
    const entry = held();
    if (version === null) {
      this.refused.delete(name);
      this.reported.delete(name);
      if (entry) {
        retire(entry.served);
        this.entries.delete(name);
        this.logger.info({ model: name, version: entry.served.version }, 'model unloaded: the registry no longer has it (deleted)');
      }
      if (entry || this.evicted.delete(name)) this.onGone(name, 'deleted');
      // Versions without a current one: the quality gate kept each as a candidate, or (a store's
      // files edited by hand) the pointer to the current one names none of them.
      const versions = await this.store.versions(name).catch(() => []);
      const newest = versions.at(-1);
      if (newest !== undefined) {
        // A note that cannot be read is taken as the gate's: the usual case.
        const held = (await this.store.candidateReason(name, newest).catch(() => 'unread')) !== null;
        const n = versions.length;
        const what = held
          ? `its ${n === 1 ? 'version is a candidate' : `${n} versions are candidates`} the quality gate held back (GET /v1/models/${name}/versions says why)`
          : `the registry's pointer to its current version names none of its ${n} version${n === 1 ? '' : 's'} (GET /v1/models/${name}/versions lists them)`;
        throw new AppError('MODEL_NOT_FOUND', `model "${name}" has no current version: ${what}; promote one with POST /v1/models/${name}/versions/{version}/promote`);
      }
      throw new NoVersionError(name);
    }
    if (entry && (entry.served.version === version || this.refused.get(name) === version)) {
      // The version served, or one that failed to load and was logged once: the loaded one serves on.
      entry.checkedAt = Date.now();
      return entry.served;
    }
    // Damaged, with nothing older loaded (after a restart): refused as before, not read, checked
    // and logged again at every request.
    if (!entry && this.refused.get(name) === version) throw unloadable(name, version, TAMPERED);
    let read = false;
    try {
      const m = await this.store.load(name, version);
      read = true;
      // Disposed meanwhile (the service stopping): a detector made now would never be disposed.
      if (this.stopped) throw new AppError('MODEL_UNAVAILABLE', `model "${name}" was not loaded: the service is stopping`);
      const detector = new Detector(m.state);
      try {
        detector.warmUp();
      } catch (e: unknown) {
        detector.dispose();
        throw e;
      }
      const served: ServedModel = { name, version, manifest: m.manifest, detector, holds: 0, retired: false };
      const previous = held();
      // Loaded again after an eviction (its metrics kept on, whatever version it is now).
      this.evicted.delete(name);
      this.entries.delete(name);
      this.entries.set(name, { served, checkedAt: Date.now(), bytes: modelFootprint(m.state) });
      this.evictBeyondLimits();
      this.onSwap(served, previous?.served);
      if (previous) retire(previous.served);
      this.refused.delete(name);
      this.reported.delete(name);
      this.logger.info({ model: name, version }, 'model version loaded');
      return served;
    } catch (e: unknown) {
      // Stopping: nothing to retry, refuse or log.
      if (this.stopped) throw e;
      // Deleted or replaced while it loaded (a DELETE or promote raced this refresh): what the
      // store says now decides, once.
      const outage = !read && !isArtifactFault(e);
      // (Not asked when the store just failed to answer: a store that hangs would cost a second timeout.)
      if (again && !outage && (await this.store.currentVersion(name).catch(() => version)) !== version) return this.refresh(name, held(), false);
      const current = held();
      if (outage) {
        // The store failed to answer (Redis went down mid-load), not the version: an outage, as
        // when the current version cannot be asked; the next check asks again.
        this.registryDown = true;
        this.registryOutage.down(messageOf(e));
        if (!current) throw new AppError('MODEL_UNAVAILABLE', `model "${name}" version ${version} cannot be loaded: the model registry is unreachable`, undefined, { cause: e });
        current.checkedAt = Date.now();
        return current.served;
      }
      // Logged once per version: a version that cannot be read (gone, damaged) is tried again at
      // every check, and would fill the log at one line a second.
      if (this.reported.get(name) !== version) this.logger.error({ model: name, version, err: messageOf(e) }, 'model version refused');
      this.reported.set(name, version);
      if (current) {
        // A damaged artifact is not read (and refused) again at every check: only a newer version
        // is tried. A store that failed to answer is asked again.
        // (Only files that do not match their checksums: ARTIFACT_INVALID is also what a file
        // that could not be read gives, EMFILE or EIO, which the next check may read.)
        if (e instanceof NceError && e.code === 'ARTIFACT_TAMPERED') this.refused.set(name, version);
        current.checkedAt = Date.now();
        return current.served;
      }
      if (e instanceof NceError && e.code === 'ARTIFACT_TAMPERED') this.refused.set(name, version);
      throw unloadable(name, version, why(e));
    }
  }
}

/** Why a damaged version did not load. */
const TAMPERED = 'its files do not match their checksums (modified or damaged)';

function unloadable(name: string, version: string, reason: string): AppError {
  return new AppError('MODEL_UNAVAILABLE', `model "${name}" version ${version} cannot be loaded: ${reason}`);
}

/** Why a version did not load, in words that name no path of the server's. */
function why(e: unknown): string {
  if (e instanceof NceError && e.code === 'ARTIFACT_TAMPERED') return TAMPERED;
  if (e instanceof NceError && e.code === 'ARTIFACT_INVALID') return 'its artifact is missing, incomplete or of an unsupported format';
  return 'it could not be made ready to score';
}
