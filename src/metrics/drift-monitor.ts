import { binCount, Binning, type DataRecord, type FeatureReference, fieldReader, type FieldReader, type FieldValue } from '../nce';
import { DriftWindow, featurePsi, scoreKs, scorePsi } from './drift';

/** How the drift window is kept. */
export interface DriftOptions {
  /** Most recent records kept per model. */
  windowRecords: number;
  /** Records older than this leave the window. */
  windowSeconds: number;
  /** Per-feature drift is exported for this many features per model, the most drifted first. */
  topFeatures: number;
  /** Statistics are reported only once the window holds this many records. */
  minRecords: number;
}

/** Bytes the drift windows of unloaded models keep together: 64 MiB, about 380 windows of 9-feature models or 8 of 768-feature ones. */
export const DORMANT_WINDOW_BYTES = 64 * 1024 * 1024;

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = { windowRecords: 5000, windowSeconds: 3600, topFeatures: 10, minRecords: 100 };

/** What a model version's drift is measured against: its artifact's references and how many records each counts. */
export interface DriftReference {
  /** Training data binned per feature (absent in older artifacts: no feature drift). */
  features: readonly FeatureReference[] | undefined;
  /** Records the feature shares were counted over (0: unknown). */
  featureRecords: number;
  /** Shares of the held-out reference records' percentiles per bin (undefined: uniform, older artifacts). */
  scoreShares: readonly number[] | undefined;
  /** Held-out reference records the calibration was set from. */
  scoreRecords: number;
}

/** The drift reference of a model's manifest. */
export function driftReferenceOf(manifest: { featureReference?: FeatureReference[]; calibration: { referenceShares?: number[]; referenceCount: number }; dataset: { rows: number } }): DriftReference {
  return { features: manifest.featureReference, featureRecords: manifest.dataset.rows, scoreShares: manifest.calibration.referenceShares, scoreRecords: manifest.calibration.referenceCount };
}

/** Drift of one model's recent traffic. */
export interface DriftStats {
  version: string;
  records: number;
  /**
   * PSI of the score percentiles against the held-out reference records' own, less what samples of
   * these sizes show by chance (see `samplePsi`), and their KS; null below minRecords.
   */
  psi: number | null;
  ks: number | null;
  /** Per-feature PSI against the training data (as `psi`, less chance), most drifted first (empty below minRecords). */
  features: { feature: string; psi: number }[];
}

/** What a model's drift window holds, for display: each feature's reference and window shares, and the score percentiles'. */
export interface WindowContents {
  version: string;
  records: number;
  /** PSI and KS of the score percentiles, as {@link DriftStats} has them; null below minRecords. */
  psi: number | null;
  ks: number | null;
  /**
   * Per monitored feature, in reference order: its reference (bins and training shares), the
   * window's shares of the same bins, and their PSI (null below minRecords).
   */
  features: { ref: FeatureReference; window: number[]; psi: number | null }[];
  /** The window's shares per percentile bin, and the held-out reference records' (undefined: uniform). */
  scores: number[];
  scoreReference: readonly number[] | undefined;
}

/** Records binned by {@link DriftMonitor.bin}, waiting for their percentiles. */
export interface BinnedRecords {
  readonly tracked: Tracked;
  /** Records at the start of the batch left out (beyond the window's capacity). */
  readonly skip: number;
  readonly bins: Uint16Array;
}

interface Tracked {
  version: string;
  refs: FeatureReference[];
  reference: DriftReference;
  /** Reads the referenced features of a record. */
  read: FieldReader;
  /** Bins each of them, as `refs` do. */
  binning: Binning;
  window: DriftWindow;
  /** The last statistics and the window state they describe (several gauges read them per scrape). */
  last?: { changes: number; stats: DriftStats };
}

/**
 * Keeps a sliding window of each model's recent records and computes their drift on demand. A new
 * version starts a new window: drift is always measured against the version that scored.
 */
export class DriftMonitor {
  private readonly tracked = new Map<string, Tracked>();
  /** Windows of models unloaded while still served, oldest unload first, with their bytes (see {@link unload}). */
  private readonly dormant = new Map<string, number>();

  constructor(
    readonly options: DriftOptions = DEFAULT_DRIFT_OPTIONS,
    /** Most bytes the windows of unloaded models keep together. */
    readonly dormantBytes = DORMANT_WINDOW_BYTES,
  ) {}

  /**
   * A model unloaded to make room (MODEL_CACHE_MAX, MODEL_CACHE_MEGABYTES) but still served: its
   * window is kept, so the drift of models scored in turn beyond the cache is still measured
   * (forgotten, each reload started an empty window, and no drift was ever reported for them).
   * Kept up to {@link dormantBytes} together; beyond, the longest unloaded are forgotten.
   */
  unload(model: string): void {
    const t = this.tracked.get(model);
    if (!t) return;
    this.dormant.delete(model);
    this.dormant.set(model, t.window.bytes);
    let total = 0;
    for (const bytes of this.dormant.values()) total += bytes;
    for (const [name, bytes] of this.dormant) {
      if (total <= this.dormantBytes) break;
      this.forget(name);
      total -= bytes;
    }
  }

  /**
   * Bins records `model` at version `version` is about to score, against that version's
   * `reference`; {@link add} then enters them with their percentiles. Two steps, so that a caller
   * that scores elsewhere can let go of the records meanwhile.
   */
  bin(model: string, version: string, reference: DriftReference, records: readonly DataRecord[]): BinnedRecords {
    const t = this.track(model, version, reference);
    const f = t.refs.length;
    // Only the records the window can hold: a batch larger than it leaves its last ones.
    const skip = Math.max(0, records.length - this.options.windowRecords);
    const bins = new Uint16Array((records.length - skip) * f);
    const values: (FieldValue | undefined)[] = new Array(f);
    for (let i = skip; i < records.length; i++) {
      t.read(records[i] as DataRecord, values);
      t.binning.binAll(values, bins, (i - skip) * f);
    }
    return { tracked: t, skip, bins };
  }

  /**
   * The window of `model` at `version`: the one kept, or a new, empty one when the model was not
   * tracked or another version was. Called when a version starts serving, so that the gauges and
   * the console stop showing the previous version's window at once, not at the next record.
   */
  track(model: string, version: string, reference: DriftReference): Tracked {
    this.dormant.delete(model);
    const kept = this.tracked.get(model);
    if (kept && kept.version === version) return kept;
    const features = reference.features ?? [];
    const t: Tracked = { version, refs: [...features], reference, read: fieldReader(features.map((r) => r.name)), binning: new Binning(features), window: new DriftWindow(this.options.windowRecords, this.options.windowSeconds * 1000, features.map(binCount)) };
    this.tracked.set(model, t);
    return t;
  }

  /** Enters binned records into their window with their score percentiles (of all the records binned). */
  add(binned: BinnedRecords, percentiles: ArrayLike<number>, now = Date.now()): void {
    // A window replaced meanwhile (a new version) is no longer read: adding to it is harmless.
    binned.tracked.window.add(now, percentiles, binned.bins, binned.skip);
  }

  /** Stops tracking a model (deleted or unloaded). */
  forget(model: string): void {
    this.tracked.delete(model);
    this.dormant.delete(model);
  }

  models(): string[] {
    return [...this.tracked.keys()];
  }

  stats(model: string, now = Date.now()): DriftStats | null {
    const t = this.tracked.get(model);
    if (!t) return null;
    const w = t.window;
    w.evict(now);
    if (t.last?.changes !== w.changes) t.last = { changes: w.changes, stats: this.compute(t) };
    return t.last.stats;
  }

  /** What the model's window holds now (read-only), or null when it is not tracked. */
  contents(model: string, now = Date.now()): WindowContents | null {
    const t = this.tracked.get(model);
    if (!t) return null;
    t.window.evict(now);
    const m = this.measure(t);
    return {
      version: t.version,
      records: t.window.size,
      psi: m.psi,
      ks: m.ks,
      features: t.refs.map((ref, j) => ({ ref, window: m.featureShares[j], psi: m.featurePsi?.[j] ?? null })),
      scores: m.scoreShares,
      scoreReference: t.reference.scoreShares,
    };
  }

  private compute(t: Tracked): DriftStats {
    const m = this.measure(t);
    const drifted = m.featurePsi;
    const features = drifted === null ? [] : t.refs.map((ref, j) => ({ feature: ref.name, psi: drifted[j] })).sort((a, b) => b.psi - a.psi).slice(0, this.options.topFeatures);
    return { version: t.version, records: t.window.size, psi: m.psi, ks: m.ks, features };
  }

  /** A window's shares and, from minRecords on, its drift: what both the gauges and the console read. */
  private measure(t: Tracked): { scoreShares: number[]; featureShares: number[][]; psi: number | null; ks: number | null; featurePsi: number[] | null } {
    const w = t.window;
    const scoreShares = w.shares(w.scoreCounts);
    const featureShares = w.featureCounts.map((c) => w.shares(c));
    if (w.size < this.options.minRecords) return { scoreShares, featureShares, psi: null, ks: null, featurePsi: null };
    const r = t.reference;
    return {
      scoreShares,
      featureShares,
      psi: scorePsi(r.scoreShares, scoreShares, { reference: r.scoreRecords, window: w.size }),
      ks: scoreKs(r.scoreShares, scoreShares),
      featurePsi: t.refs.map((ref, j) => featurePsi(ref, featureShares[j], { reference: r.featureRecords, window: w.size })),
    };
  }
}
