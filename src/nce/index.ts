/** The NCE engine: pure math over records, no transport. */
export { activeBackend, type BackendName, initBackend, liveTensors } from './backend';
export { type Calibration, calibrate, expectedFlaggedShare, isFlagged, PERCENTILE_BINS, percentileBin, percentileOf } from './calibration';
export {
  DEFAULT_NOISE,
  DEFAULT_TRAINING_CONFIG,
  nearestKey,
  resolveTrainingConfig,
  type ScoreKind,
  type TrainingConfig,
  type TrainingConfigInput,
  trainingConfigSchema,
} from './config';
export { owned } from './arrays';
export { Detector, HOST_FORWARD_MACS, modelFootprint, type ModelState, type RawScores, SCORE_FLOOR, type ScoredRows } from './detector';
export { resultsOf, resultValue, SCORE_FIELDS, type ScoreField, type ScoreFieldKind, type ScoreResult } from './score-result';
export { encode, type Encoded, layoutOf } from './encoding';
export { isArtifactFault, messageOf, NceError, type NceErrorCode } from './errors';
export { auprc, auroc } from './metrics';
export { isFormattedNumber, isJsonNumberText, isMissingMarker, missingMarkers } from './data-checks';
export type { FittedNoise, NoiseSpec } from './noise';
export { canonicalName, canonicalText, categoricalNames, categoryCode, categoryIndex, type DataRecord, DECIMAL_TEXT, type Feature, fieldOf, type FieldReader, type FieldValue, fieldReader, hasOtherForms, inferSchema } from './schema';
export { checkNoiseRecords, checkTrainingCost, type EpochProgress, featureColumns, heldOutCount, MAX_FEATURES, MIN_TRAINING_RECORDS, train, type TrainingSummary, type TrainResult } from './trainer';
export {
  type Artifact,
  FORMAT_VERSION,
  fingerprintRecords,
  fromArtifact,
  type Manifest,
  MANIFEST_FILE,
  toArtifact,
  WEIGHTS_FILE,
} from './artifact';
export { DEFAULT_PERMUTATIONS, explain, type Explanation } from './explain';
export { binCount, type Binner, binner, Binning, featureReference, type FeatureReference } from './reference';
