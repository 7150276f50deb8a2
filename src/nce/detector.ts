import { float64, uint8 } from './arrays';
import type { Calibration } from './calibration';
import { isFlagged, percentileOf } from './calibration';
import type { ScoreKind } from './config';
import { type Encoded, encoderFor, layoutOf, type Layout, networkInput } from './encoding';
import { type Architecture, type DenseWeights, HostNet, ServingNet } from './model';
import { type ContinuousNoise, DiscreteNoise, type FittedNoise, KdeNoise, kernelLogDensities, type NoiseSpec, noiseLogDensities, restoreNoise } from './noise';
import type { DataRecord, Feature } from './schema';
import { resultsOf, type ScoreResult } from './score-result';

/** Everything a trained model is, in memory; the artifact stores exactly this. */
export interface ModelState {
  schema: Feature[];
  noise: {
    spec: NoiseSpec;
    fitted: FittedNoise;
    discrete: number[][];
    /**
     * How productOfExperts takes q's components: 'fitted' = as fitted to the data (a Gaussian at
     * scale 1); absent (artifacts from before it existed, calibrated that way) = as widened for the noise.
     */
    experts?: 'fitted';
  };
  noiseRatio: number;
  /**
   * productOfExperts counts logRatio up to this value: the median over held-out reference records.
   * Absent (artifacts from before it existed, calibrated that way): uncapped.
   */
  ratioCap?: number;
  /**
   * What the score adds per value training never had (see `Encoded.novel`): the log-probability of
   * such a value, (0 + 1/2) / (n + 1) over the n reference records (the Krichevsky-Trofimov
   * estimate of an event never seen). Absent (artifacts from before it existed): nothing.
   */
  noveltyLogProb?: number;
  architecture: Architecture;
  scoreKind: ScoreKind;
  calibration: Calibration;
  weights: DenseWeights[];
  /**
   * Further NCE models of the same records, each a classifier against its own continuous noise
   * (the discrete fields keep this model's noise): an ensemble over noises. logRatio, log q and
   * logDensity are the means over this model and these, so logDensity = logRatio + log q still
   * holds. Absent (and in artifacts from before they existed): this model alone.
   */
  partners?: PartnerState[];
}

/** One partner of a model (see {@link ModelState.partners}). */
export interface PartnerState {
  noise: { spec: NoiseSpec; fitted: FittedNoise };
  architecture: Architecture;
  weights: DenseWeights[];
}

/** A partner, loaded. */
interface Partner {
  noise: ContinuousNoise;
  host: HostNet;
  net: ServingNet;
}

/** The NCE quantities of a batch of rows. */
export interface RawScores {
  /** log p_data(x) - log q(x): classifier logit + log nu. */
  logRatio: Float64Array;
  /** logRatio + log q(x); -Infinity where q has no mass. */
  logDensity: Float64Array;
  /**
   * The model's score: whichever quantity `scoreKind` names; a record with values training never
   * had scores `noveltyLogProb` per such value below that score or below the threshold, whichever
   * is lower, so it is always flagged.
   */
  score: Float64Array;
}

/** A batch's NCE quantities with the calibration's reading of each row: answers are written from these columns. */
export interface ScoredRows extends RawScores {
  /** Share of held-out reference records scoring lower. */
  percentile: Float64Array;
  /** 1 where the score is below the calibrated threshold. */
  ood: Uint8Array;
  /** Rows with ood = 1. */
  flagged: number;
}

/**
 * Up to this many multiply-adds a batch's forward pass runs in plain JavaScript rather than on the
 * tfjs backend, whose fixed cost per call (~70-100 us on wasm) is worth paying from about 8 rows of
 * the default network (4.7k multiply-adds each) on.
 */
export const HOST_FORWARD_MACS = 40_000;

/** Lowest score reported, so a record far outside a bounded noise still gets a finite number. */
export const SCORE_FLOOR = -1e6;

/** What a loaded detector holds beyond its numbers: the network's layers, closures, tfjs bookkeeping. */
const DETECTOR_OVERHEAD_BYTES = 256 << 10;

/**
 * About how many bytes a loaded model of this state holds: its numbers (the noise's fit, a kernel
 * density's centres, the network's weights) twice, as the state's own arrays and as the detector's
 * typed copies, and a fixed overhead. A 768-feature Gaussian noise holds a 768 x 768 Cholesky
 * factor: about 10 MB; a 9-feature model about 0.3 MB. The allocator's own waste comes on top.
 */
export function modelFootprint(state: ModelState): number {
  let bytes = 0;
  const walk = (v: unknown): void => {
    if (typeof v === 'number') bytes += 8;
    else if (ArrayBuffer.isView(v)) bytes += v.byteLength;
    else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(state);
  return 2 * bytes + DETECTOR_OVERHEAD_BYTES;
}

/** A loaded model that scores records. Holds tfjs memory: {@link Detector.dispose} it. */
export class Detector {
  readonly layout: Layout;
  private readonly net: ServingNet;
  private readonly host: HostNet;
  private readonly noise: ContinuousNoise;
  private readonly discrete: DiscreteNoise;
  /** Per categorical field with an "other" bucket of known size: its code and a value's log share of it. */
  private readonly otherShares: { field: number; code: number; logShare: number }[];
  private readonly logNu: number;
  private readonly encode: ReturnType<typeof encoderFor>;
  private readonly partners: Partner[] = [];
  /** The partners' kernel densities when every partner's is one on the same centres (scored together), else null. */
  private readonly sharedKernels: KdeNoise[] | null;
  /** Batches up to this many rows take the host forward pass. */
  readonly hostForwardRows: number;

  constructor(readonly state: ModelState) {
    this.layout = layoutOf(state.schema);
    this.encode = encoderFor(state.schema);
    let macs = 0;
    for (const w of state.weights) macs += w.in * w.out;
    this.hostForwardRows = Math.max(1, Math.floor(HOST_FORWARD_MACS / macs));
    this.noise = restoreNoise(state.noise.fitted);
    this.discrete = DiscreteNoise.fromJSON(state.noise.discrete);
    this.otherShares = this.layout.discrete.flatMap((g, field) => {
      const f = state.schema.find((s) => s.name === g.feature);
      if (g.role !== 'categorical' || f?.kind !== 'categorical' || !(f.otherValues && f.otherValues > 0)) return [];
      // The bucket's values seen in training, and one share for every value never seen.
      return [{ field, code: f.categories.length, logShare: -Math.log(f.otherValues + 1) }];
    });
    this.logNu = Math.log(state.noiseRatio);
    this.host = new HostNet(state.architecture, state.weights);
    const partners = (state.partners ?? []).map((p) => ({ state: p, noise: restoreNoise(p.noise.fitted), host: new HostNet(p.architecture, p.weights) }));
    const kernels = partners.flatMap((p) => (p.noise instanceof KdeNoise ? [p.noise] : []));
    this.sharedKernels = kernels.length > 0 && kernels.length === partners.length && kernels.every((k) => k.sharesCentresWith(kernels[0])) ? kernels : null;
    // Last: the only parts holding backend memory, so nothing that can still fail leaves them behind.
    this.net = new ServingNet(state.architecture, state.weights);
    try {
      for (const p of partners) this.partners.push({ noise: p.noise, host: p.host, net: new ServingNet(p.state.architecture, p.state.weights) });
    } catch (e: unknown) {
      this.dispose();
      throw e;
    }
  }

  /**
   * log q(x) and, for productOfExperts, the log harmonic mean of the continuous components. With
   * `path` (see {@link Detector.evaluate}), a noise that has a path form takes it.
   */
  private logNoiseParts(e: Encoded, path?: Int32Array): { density: Float64Array; harmonic: Float64Array | null } {
    const continuous = (noise: ContinuousNoise): Float64Array => (path && noise.logDensityPath ? noise.logDensityPath(e.numeric, e.n, path) : noise.logDensity(e.numeric, e.n));
    let density: Float64Array;
    let harmonic: Float64Array | null = null;
    if (this.state.scoreKind === 'productOfExperts') {
      ({ density, harmonic } = noiseLogDensities(this.noise, e.numeric, e.n, this.state.noise.experts === 'fitted'));
      // When q is not a mixture the two are one array; the discrete part belongs to the density only.
      if (density === harmonic) {
        density = float64(harmonic.length);
        density.set(harmonic);
      }
    } else {
      density = continuous(this.noise);
      if (this.partners.length > 0) {
        // The ensemble over noises: the mean of every model's continuous log q (the discrete
        // fields' noise is one for all, added once below).
        // Kernel densities on the same centres share the distances from each row to them.
        const partnerDensities = this.sharedKernels ? kernelLogDensities(this.sharedKernels, e.numeric, e.n) : this.partners.map((p) => continuous(p.noise));
        for (const pq of partnerDensities) for (let i = 0; i < e.n; i++) density[i] += pq[i];
        const k = 1 + this.partners.length;
        for (let i = 0; i < e.n; i++) density[i] /= k;
      }
    }
    const disc = this.discrete.logProb(e.codes, e.n);
    for (let i = 0; i < e.n; i++) density[i] += disc[i];
    // A value of an "other" bucket is one of the bucket's values: its share of the bucket.
    const dd = this.layout.discrete.length;
    for (const { field, code, logShare } of this.otherShares) {
      for (let i = 0; i < e.n; i++) if (e.codes[i * dd + field] === code) density[i] += logShare;
    }
    return { density, harmonic };
  }

  /**
   * Each discrete field's most likely value's code under q: the most frequent code in training (the
   * discrete noise is half the training frequencies and half uniform), where a value of an "other"
   * bucket counts at its share of the bucket, so a bucket of many rare ids is not the usual id.
   * Explanations start from it.
   */
  usualCodes(): Int32Array {
    return Int32Array.from(this.state.noise.discrete, (probs, field) => {
      const other = this.otherShares.find((o) => o.field === field);
      const logProb = (code: number): number => Math.log(probs[code]) + (other?.code === code ? other.logShare : 0);
      let best = 0;
      for (let code = 1; code < probs.length; code++) if (logProb(code) > logProb(best)) best = code;
      return best;
    });
  }

  /** The classifier logit of n rows of network inputs: with partners, the mean over every model's. */
  private logits(input: Float32Array, n: number): Float32Array | Float64Array {
    const forward = (host: HostNet, net: ServingNet): Float32Array => (n <= this.hostForwardRows ? host.predict(input, n) : net.predict(input, n));
    const own = forward(this.host, this.net);
    if (this.partners.length === 0) return own;
    const mean = Float64Array.from(own);
    for (const p of this.partners) {
      const pl = forward(p.host, p.net);
      for (let i = 0; i < n; i++) mean[i] += pl[i];
    }
    const k = 1 + this.partners.length;
    for (let i = 0; i < n; i++) mean[i] /= k;
    return mean;
  }

  /**
   * The NCE quantities of encoded rows. With `path`, rows that each differ from the row before in
   * one numeric column at most (`path[i]`: that column, -1 for none, -2 for a row to take in full),
   * as an explanation walks them: a Gaussian q then costs O(d) a row instead of O(d^2), the same
   * quantities up to float rounding.
   */
  evaluate(e: Encoded, path?: Int32Array): RawScores {
    const n = e.n;
    const logRatio = float64(n);
    const score = float64(n);
    if (n === 0) return { logRatio, logDensity: new Float64Array(0), score };
    const logits = this.logits(networkInput(this.layout, e), n);
    const { density: logDensity, harmonic } = this.logNoiseParts(e, path);
    const cap = this.state.ratioCap ?? Infinity;
    const novelty = this.state.noveltyLogProb ?? 0;
    const threshold = this.state.calibration.threshold;
    const d = this.state.schema.length;
    for (let i = 0; i < n; i++) {
      const logQ = logDensity[i];
      logRatio[i] = logits[i] + this.logNu;
      logDensity[i] = logQ + logRatio[i];
      // productOfExperts: log q + the capped ratio + the experts' harmonic mean.
      let s = harmonic ? logQ + Math.min(logRatio[i], cap) + harmonic[i] : this.state.scoreKind === 'logDensity' ? logDensity[i] : logRatio[i];
      if (e.novel && novelty !== 0) {
        let values = 0;
        for (let j = 0; j < d; j++) values += e.novel[i * d + j];
        // A value training never had is out of distribution whatever the rest of the record says:
        // it costs its log probability, from the calibrated threshold down at most, so it is flagged.
        if (values > 0) s = (Number.isFinite(threshold) ? Math.min(s, threshold) : s) + values * novelty;
      }
      // NaN (never expected: inputs are clamped) would slip through Math.max; it scores as the floor.
      score[i] = Number.isNaN(s) ? SCORE_FLOOR : Math.max(SCORE_FLOOR, s);
    }
    return { logRatio, logDensity, score };
  }

  /**
   * Scores records, in order.
   * @throws NceError INVALID_RECORD naming the record and field
   */
  score(records: readonly DataRecord[]): ScoreResult[] {
    return resultsOf(this.scoreRows(this.encodeRecords(records)));
  }

  /**
   * Records in the model's space, the input of {@link Detector.scoreRows} and {@link Detector.evaluate}.
   * @throws NceError INVALID_RECORD naming the record and field
   */
  encodeRecords(records: readonly DataRecord[]): Encoded {
    return this.encode(records);
  }

  /** The NCE quantities of encoded rows, with each row's percentile and flag from the calibration. */
  scoreRows(e: Encoded): ScoredRows {
    const raw = this.evaluate(e);
    const c = this.state.calibration;
    const n = raw.score.length;
    const percentile = float64(n);
    const ood = uint8(n);
    let flagged = 0;
    for (let i = 0; i < n; i++) {
      const s = raw.score[i];
      percentile[i] = percentileOf(c, s);
      if (isFlagged(c, s)) {
        ood[i] = 1;
        flagged++;
      }
    }
    return { logRatio: raw.logRatio, logDensity: raw.logDensity, score: raw.score, percentile, ood, flagged };
  }

  /**
   * Builds what scoring builds on first use (the noise's interpolation tables, the backend's
   * kernels) with a batch of baseline rows, so that the first request does not pay for it.
   */
  warmUp(): void {
    const n = this.hostForwardRows + 1;
    this.evaluate({ n, numeric: new Float64Array(n * this.layout.numeric.length), codes: new Int32Array(n * this.layout.discrete.length) });
  }

  dispose(): void {
    this.net.dispose();
    for (const p of this.partners) p.net.dispose();
  }
}
