import { binCount, Binning, type DataRecord, type FeatureReference, fieldReader, type FieldReader, type FieldValue } from '../nce';
import { DriftWindow, ksUniform, PERCENTILE_BINS, psi } from './drift';

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

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = { windowRecords: 5000, windowSeconds: 3600, topFeatures: 10, minRecords: 100 };

/** Drift of one model's recent traffic. */
export interface DriftStats {
  version: string;
  records: number;
  /** PSI and KS of the score percentiles against uniform (= against the reference scores); null below minRecords. */
  psi: number | null;
  ks: number | null;
  /** Per-feature PSI against the training data, most drifted first (empty below minRecords). */
  features: { feature: string; psi: number }[];
}

interface Tracked {
  version: string;
  refs: FeatureReference[];
  /** Reads the referenced features of a record. */
  read: FieldReader;
  /** Bins each of them, as `refs` do. */
  binning: Binning;
  window: DriftWindow;
  /** The last statistics and the window state they describe (several gauges read them per scrape). */
  last?: { changes: number; stats: DriftStats };
}

const UNIFORM = new Array<number>(PERCENTILE_BINS).fill(1 / PERCENTILE_BINS);

/**
 * Keeps a sliding window of each model's recent records and computes their drift on demand. A new
 * version starts a new window: drift is always measured against the version that scored.
 */
export class DriftMonitor {
  private readonly tracked = new Map<string, Tracked>();
  /** Bins of the batch being added (reused: most batches are small and frequent). */
  private scratch = new Uint16Array(1024);

  constructor(readonly options: DriftOptions = DEFAULT_DRIFT_OPTIONS) {}

  /** Records scored by `model` at version `version`, whose training data `refs` describe, with their percentiles. */
  observe(model: string, version: string, refs: readonly FeatureReference[] | undefined, records: readonly DataRecord[], percentiles: ArrayLike<number>, now = Date.now()): void {
    let t = this.tracked.get(model);
    if (!t || t.version !== version) {
      const features = refs ?? [];
      t = { version, refs: [...features], read: fieldReader(features.map((r) => r.name)), binning: new Binning(features), window: new DriftWindow(this.options.windowRecords, this.options.windowSeconds * 1000, features.map(binCount)) };
      this.tracked.set(model, t);
    }
    const f = t.refs.length;
    if (this.scratch.length < records.length * f) this.scratch = new Uint16Array(records.length * f);
    const bins = this.scratch;
    const values: (FieldValue | undefined)[] = new Array(f);
    for (let i = 0; i < records.length; i++) {
      t.read(records[i] as DataRecord, values);
      for (let j = 0; j < f; j++) bins[i * f + j] = t.binning.bin(j, values[j]);
    }
    for (let i = 0; i < records.length; i++) t.window.add(now, percentiles[i] as number, bins, i * f);
  }

  /** Stops tracking a model (deleted or unloaded). */
  forget(model: string): void {
    this.tracked.delete(model);
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

  private compute(t: Tracked): DriftStats {
    const w = t.window;
    if (w.size < this.options.minRecords) return { version: t.version, records: w.size, psi: null, ks: null, features: [] };
    const counts = w.featureCounts;
    const features = t.refs
      .map((ref, j) => ({ feature: ref.name, psi: psi(ref.shares, w.shares(counts[j] as number[])) }))
      .sort((a, b) => b.psi - a.psi)
      .slice(0, this.options.topFeatures);
    return { version: t.version, records: w.size, psi: psi(UNIFORM, w.shares(w.scoreCounts)), ks: ksUniform(w.percentileValues()), features };
  }
}
