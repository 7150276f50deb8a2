import type { DataRecord, FieldValue } from '../nce';

/** One flagged record as the web console shows it. */
export interface FlaggedRecord {
  /** When it was scored (ISO 8601). */
  at: string;
  version: string;
  score: number;
  percentile: number;
  /** The features that lowered its score most, most first: each one's part of the score minus the baseline record's, in nats. */
  contributions: { feature: string; value: number }[];
  /** Its values of the model's features, long texts cut (see {@link KEPT_TEXT_CHARS}); only kept when the console may show raw values. */
  values?: Record<string, FieldValue>;
  /** In a report: its line in the file. */
  row?: number;
}

/** Contributions a flagged record keeps: the features that lowered its score most. */
export const TOP_CONTRIBUTIONS = 5;

/**
 * Characters a kept text value keeps (a longer one is cut, ending in "…"), and characters of text
 * a flagged record keeps in all (beyond, its texts are "…"). A value can be as long as a request
 * body: 50 flagged records of 7 MB texts made the console's answer longer than a string can be
 * (a 500, and 1.4 GB of memory per read).
 */
export const KEPT_TEXT_CHARS = 200;
export const KEPT_RECORD_CHARS = 4096;

/** A record's values of `features` as the console keeps them: texts cut to their budgets (see {@link KEPT_TEXT_CHARS}). */
function keptValues(record: DataRecord, features: readonly string[]): Record<string, FieldValue> {
  let budget = KEPT_RECORD_CHARS;
  return Object.fromEntries(
    features.map((f) => {
      const v = record[f] ?? null;
      if (typeof v !== 'string') return [f, v];
      const kept = budget <= 0 ? '…' : v.length > Math.min(KEPT_TEXT_CHARS, budget) ? `${v.slice(0, Math.min(KEPT_TEXT_CHARS, budget))}…` : v;
      budget -= kept.length;
      return [f, kept];
    }),
  );
}

/**
 * A flagged record as the console keeps it: its top contributions (most negative first) and,
 * with `keepValues`, its values of the model's `features`.
 */
export function flaggedRecord(
  scored: { at: string; version: string; score: number; percentile: number },
  record: DataRecord,
  contributions: Readonly<Record<string, number>>,
  features: readonly string[],
  keepValues: boolean,
): FlaggedRecord {
  const top = Object.entries(contributions)
    .map(([feature, value]) => ({ feature, value }))
    .sort((a, b) => a.value - b.value)
    .slice(0, TOP_CONTRIBUTIONS);
  const out: FlaggedRecord = { ...scored, contributions: top };
  if (keepValues) out.values = keptValues(record, features);
  return out;
}

/** How much of a model's recent traffic is kept for the console. */
export interface RecentTrafficOptions {
  /** Most recent scores kept per model (as the drift window). */
  windowRecords: number;
  /** Scores older than this leave the window. */
  windowSeconds: number;
  /** Flagged records kept per model, the newest. */
  flaggedRecords: number;
  /** Whether flagged records keep their values (CONSOLE_RAW_VALUES is not `off`). */
  keepValues: boolean;
}

export const DEFAULT_RECENT_TRAFFIC: RecentTrafficOptions = { windowRecords: 5000, windowSeconds: 3600, flaggedRecords: 50, keepValues: true };

/**
 * Explaining a record runs the network on 1 + 8 x features rows, so the sample is rationed: after
 * explaining for t ms, the next batch is sampled no sooner than t / SAMPLE_DUTY later (at most 2%
 * of the explaining thread, or of the event loop without scoring threads), and never sooner than
 * SAMPLE_MIN_GAP_MS.
 */
const SAMPLE_DUTY = 0.02;
const SAMPLE_MIN_GAP_MS = 200;

/** A model's recent scores in a ring, its counts, and its flagged sample, newest first. */
interface ModelTraffic {
  version: string;
  scores: Float64Array;
  times: Float64Array;
  start: number;
  count: number;
  scored: number;
  flagged: number;
  sample: FlaggedRecord[];
  nextSampleAt: number;
  /** Whether a sample of this version was explained: the first one's cost holds the model's first load on the explaining thread. */
  explained: boolean;
}

/** What the console reads of a model's recent traffic. */
export interface TrafficView {
  version: string;
  /** Scores in the window, oldest first. */
  scores: number[];
  /** Records scored and flagged by this version in this process. */
  scored: number;
  flagged: number;
  /** Flagged records, newest first. */
  sample: FlaggedRecord[];
}

/**
 * What the web console shows of each model's recent traffic: the scores of the last records (as
 * the drift window keeps them, which holds only their percentiles), records scored and flagged,
 * and a bounded sample of flagged records with their explanations. A new version starts afresh.
 */
export class RecentTraffic {
  private readonly models = new Map<string, ModelTraffic>();

  constructor(readonly options: RecentTrafficOptions = DEFAULT_RECENT_TRAFFIC) {}

  /** Enters a scored batch: its scores and how many of them were flagged. */
  observe(model: string, version: string, scores: ArrayLike<number>, flagged: number, now = Date.now()): void {
    const t = this.of(model, version);
    const capacity = t.scores.length;
    for (let i = Math.max(0, scores.length - capacity); i < scores.length; i++) {
      if (t.count === capacity) {
        t.start = (t.start + 1) % capacity;
        t.count--;
      }
      const slot = (t.start + t.count) % capacity;
      t.scores[slot] = scores[i];
      t.times[slot] = now;
      t.count++;
    }
    t.scored += scores.length;
    t.flagged += flagged;
  }

  /** Whether a batch scored now may add to the flagged sample (the caller then keeps its records). */
  wantsSample(model: string, now = Date.now()): boolean {
    const t = this.models.get(model);
    return !t || now >= t.nextSampleAt;
  }

  /**
   * Marks a sample of the model's version as being explained: no batch adds to the sample until it
   * lands ({@link sampled}) or fails ({@link sampleFailed}), so samples never queue up on the
   * explaining thread ahead of the explanations clients ask for.
   */
  sampling(model: string, version: string): void {
    const t = this.tracked(model, version);
    if (t) t.nextSampleAt = Infinity;
  }

  /** A sample that could not be explained: the next batch may try again after the shortest gap. */
  sampleFailed(model: string, version: string, now = Date.now()): void {
    const t = this.tracked(model, version);
    if (t) t.nextSampleAt = now + SAMPLE_MIN_GAP_MS;
  }

  /** Adds explained flagged records (newest last) that took `costMs` to explain. */
  sampled(model: string, version: string, records: readonly FlaggedRecord[], costMs: number, now = Date.now()): void {
    const t = this.tracked(model, version);
    if (!t) return;
    // The first sample of a version is not charged: its cost holds loading the model on the
    // explaining thread (1.7 s against 0.14 s for the next, measured), which would otherwise keep
    // the sample from the first minute and a half of a new version's flagged records.
    t.nextSampleAt = now + Math.max(SAMPLE_MIN_GAP_MS, t.explained ? costMs / SAMPLE_DUTY : 0);
    t.explained = true;
    const kept = this.options.keepValues ? records : records.map(({ values: _values, ...rest }) => rest);
    t.sample = [...kept].reverse().concat(t.sample).slice(0, this.options.flaggedRecords);
  }

  /**
   * The model's traffic while it is of `version`: a sample is explained after the answer, and the
   * model may have moved to another version meanwhile, which starts afresh.
   */
  private tracked(model: string, version: string): ModelTraffic | undefined {
    const t = this.models.get(model);
    return t?.version === version ? t : undefined;
  }

  /** The model's recent traffic, or null when it scored nothing since it was loaded. */
  view(model: string, now = Date.now()): TrafficView | null {
    const t = this.models.get(model);
    if (!t) return null;
    const capacity = t.scores.length;
    const oldest = now - this.options.windowSeconds * 1000;
    while (t.count > 0 && t.times[t.start] < oldest) {
      t.start = (t.start + 1) % capacity;
      t.count--;
    }
    const scores = new Array<number>(t.count);
    for (let i = 0; i < t.count; i++) scores[i] = t.scores[(t.start + i) % capacity];
    return { version: t.version, scores, scored: t.scored, flagged: t.flagged, sample: [...t.sample] };
  }

  /** Stops keeping a model's traffic (deleted or unloaded). */
  forget(model: string): void {
    this.models.delete(model);
  }

  private of(model: string, version: string): ModelTraffic {
    let t = this.models.get(model);
    if (!t || t.version !== version) {
      const n = this.options.windowRecords;
      t = { version, scores: new Float64Array(n), times: new Float64Array(n), start: 0, count: 0, scored: 0, flagged: 0, sample: [], nextSampleAt: 0, explained: false };
      this.models.set(model, t);
    }
    return t;
  }
}
