import { createHash } from 'node:crypto';
import { PERCENTILE_BINS } from './calibration';
import type { TrainingConfig } from './config';
import type { ModelState, PartnerState } from './detector';
import { layoutOf } from './encoding';
import { NceError } from './errors';
import { type DenseWeights, layerWidths } from './model';
import type { DataRecord } from './schema';
import type { FeatureReference } from './reference';
import type { TrainingSummary, TrainResult } from './trainer';

/** Version of the artifact layout; loaders refuse others. */
export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const WEIGHTS_FILE = 'weights.bin';

/** The manifest of one model version (DESIGN.md, "Model artifact"). */
export interface Manifest extends Omit<ModelState, 'weights' | 'partners'> {
  /** The partners' noises and shapes; their layers follow the main model's in the weights file. */
  partners?: Omit<PartnerState, 'weights'>[];
  formatVersion: number;
  createdAt: string;
  training: TrainingSummary;
  config: TrainingConfig;
  dataset: { fingerprint: string; rows: number };
  /** Training data binned per feature, for drift monitoring (absent in older artifacts). */
  featureReference?: FeatureReference[];
  /** Backend the model was trained on. */
  backend: string;
  weights: { file: string; sha256: string; bytes: number; layers: { in: number; out: number }[] };
  /** sha256 of this manifest's JSON without this field: edits to the file are detected. */
  manifestSha256: string;
}

/** A model in its stored form: the manifest text and the weights bytes. */
export interface Artifact {
  manifest: Manifest;
  weights: Buffer;
}

/** Identifies training data: sha256 over the records' values in column order. */
export function fingerprintRecords(records: readonly DataRecord[], columns: readonly string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(columns));
  for (const r of records) h.update(JSON.stringify(columns.map((c) => r[c] ?? null)) + '\n');
  return h.digest('hex');
}

/** Builds the artifact of a training result. */
export function toArtifact(result: TrainResult, meta: { datasetFingerprint: string; datasetRows: number; backend: string; createdAt?: Date }): Artifact {
  const partners = result.state.partners ?? [];
  const layers = [...result.state.weights, ...partners.flatMap((p) => p.weights)];
  const weights = packWeights(layers);
  const body: Omit<Manifest, 'manifestSha256'> = {
    formatVersion: FORMAT_VERSION,
    createdAt: (meta.createdAt ?? new Date()).toISOString(),
    schema: result.state.schema,
    noise: result.state.noise,
    noiseRatio: result.state.noiseRatio,
    ...(result.state.ratioCap === undefined ? {} : { ratioCap: result.state.ratioCap }),
    ...(result.state.noveltyLogProb === undefined ? {} : { noveltyLogProb: result.state.noveltyLogProb }),
    architecture: result.state.architecture,
    scoreKind: result.state.scoreKind,
    calibration: result.state.calibration,
    ...(partners.length > 0 ? { partners: partners.map((p) => ({ noise: p.noise, architecture: p.architecture })) } : {}),
    training: result.training,
    config: result.config,
    ...(result.reference ? { featureReference: result.reference } : {}),
    dataset: { fingerprint: meta.datasetFingerprint, rows: meta.datasetRows },
    backend: meta.backend,
    weights: {
      file: WEIGHTS_FILE,
      sha256: sha256(weights),
      bytes: weights.length,
      layers: layers.map((w) => ({ in: w.in, out: w.out })),
    },
  };
  return { manifest: { ...body, manifestSha256: manifestDigest(body) }, weights };
}

/** The model state of an artifact, after verifying both checksums and the shapes. */
export function fromArtifact(manifestText: string, weights: Buffer): { manifest: Manifest; state: ModelState } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText);
  } catch (e: unknown) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} is not valid JSON`, { cause: e });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} is not an object`);
  const { manifestSha256, ...body } = parsed as Manifest;
  if (typeof manifestSha256 !== 'string' || manifestDigest(body) !== manifestSha256) {
    throw new NceError('ARTIFACT_TAMPERED', `${MANIFEST_FILE} does not match its checksum: the file was modified or damaged`);
  }
  const manifest = parsed as Manifest;
  if (manifest.formatVersion !== FORMAT_VERSION) {
    throw new NceError('ARTIFACT_INVALID', `artifact format ${String(manifest.formatVersion)} is not supported (expected ${FORMAT_VERSION})`);
  }
  if (weights.length !== manifest.weights.bytes || sha256(weights) !== manifest.weights.sha256) {
    throw new NceError('ARTIFACT_TAMPERED', `${WEIGHTS_FILE} does not match the sha256 in ${MANIFEST_FILE}: the file was modified or damaged`);
  }
  if (manifest.noveltyLogProb !== undefined && !(Number.isFinite(manifest.noveltyLogProb) && manifest.noveltyLogProb <= 0)) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has a noveltyLogProb that is not a finite log-probability`);
  }
  if (manifest.ratioCap !== undefined && !Number.isFinite(manifest.ratioCap)) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has a ratioCap that is not a finite number`);
  }
  const novelty = manifest.calibration?.novelty;
  if (novelty !== undefined && !(Number.isFinite(novelty) && novelty >= 0 && novelty <= 1)) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has a calibration.novelty that is not a share between 0 and 1`);
  }
  const tailShare = manifest.calibration?.tailShare;
  if (tailShare !== undefined && !(Number.isFinite(tailShare) && tailShare > 0 && tailShare < 1)) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has a calibration.tailShare that is not a share between 0 and 1`);
  }
  const shares = manifest.calibration?.referenceShares;
  if (shares !== undefined && !(Array.isArray(shares) && shares.length === PERCENTILE_BINS && shares.every((v) => Number.isFinite(v) && v >= 0))) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has calibration.referenceShares that are not ${PERCENTILE_BINS} non-negative numbers`);
  }
  if (manifest.partners !== undefined && !(Array.isArray(manifest.partners) && manifest.partners.every((p) => p?.architecture && p.noise?.fitted))) {
    throw new NceError('ARTIFACT_INVALID', `${MANIFEST_FILE} has partners without a noise and an architecture`);
  }
  const layers = unpackWeights(weights, manifest.weights.layers);
  // The main model's layers, then each partner's, each run matching its architecture exactly.
  const inputWidth = layoutOf(manifest.schema).inputWidth;
  const runs: DenseWeights[][] = [];
  let next = 0;
  for (const arch of [manifest.architecture, ...(manifest.partners ?? []).map((p) => p.architecture)]) {
    const run = layersOf(layers, next, arch, inputWidth);
    if (!run) throw new NceError('ARTIFACT_INVALID', `${WEIGHTS_FILE} layer shapes do not match the architecture in ${MANIFEST_FILE}`);
    runs.push(run);
    next += run.length;
  }
  if (next !== layers.length) throw new NceError('ARTIFACT_INVALID', `${WEIGHTS_FILE} layer shapes do not match the architecture in ${MANIFEST_FILE}`);
  return {
    manifest,
    state: {
      schema: manifest.schema,
      noise: manifest.noise,
      noiseRatio: manifest.noiseRatio,
      ...(manifest.ratioCap === undefined ? {} : { ratioCap: manifest.ratioCap }),
      ...(manifest.noveltyLogProb === undefined ? {} : { noveltyLogProb: manifest.noveltyLogProb }),
      architecture: manifest.architecture,
      scoreKind: manifest.scoreKind,
      calibration: manifest.calibration,
      weights: runs[0],
      ...(manifest.partners ? { partners: manifest.partners.map((p, i) => ({ noise: p.noise, architecture: p.architecture, weights: runs[i + 1] })) } : {}),
    },
  };
}

/** The layers of one network of shape `arch` from `start` on, or null where they do not fit it. */
function layersOf(layers: DenseWeights[], start: number, arch: Manifest['architecture'], inputWidth: number): DenseWeights[] | null {
  if (!Number.isInteger(arch.members) || arch.members < 1 || arch.inputWidth !== inputWidth) return null;
  const widths = layerWidths(arch);
  const perMember = widths.length - 1;
  const run = layers.slice(start, start + arch.members * perMember);
  const ok = run.length === arch.members * perMember && run.every((l, i) => l.in === widths[i % perMember] && l.out === widths[(i % perMember) + 1]);
  return ok ? run : null;
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function manifestDigest(body: object): string {
  return sha256(JSON.stringify(body));
}

function packWeights(layers: readonly DenseWeights[]): Buffer {
  let floats = 0;
  for (const l of layers) floats += l.kernel.length + l.bias.length;
  const buf = Buffer.alloc(floats * 4);
  let o = 0;
  for (const l of layers) {
    for (const v of l.kernel) o = buf.writeFloatLE(v, o);
    for (const v of l.bias) o = buf.writeFloatLE(v, o);
  }
  return buf;
}

function unpackWeights(buf: Buffer, layers: readonly { in: number; out: number }[]): DenseWeights[] {
  let o = 0;
  const need = layers.reduce((s, l) => s + (l.in * l.out + l.out) * 4, 0);
  if (need !== buf.length) throw new NceError('ARTIFACT_INVALID', `${WEIGHTS_FILE} has ${buf.length} bytes, the layers need ${need}`);
  return layers.map((l) => {
    const kernel = new Float32Array(l.in * l.out);
    for (let i = 0; i < kernel.length; i++, o += 4) kernel[i] = buf.readFloatLE(o);
    const bias = new Float32Array(l.out);
    for (let i = 0; i < bias.length; i++, o += 4) bias[i] = buf.readFloatLE(o);
    return { kernel, bias, in: l.in, out: l.out };
  });
}
