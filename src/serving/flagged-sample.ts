import type { Logger } from 'pino';
import { type DataRecord, type Explanation, isFlagged, messageOf } from '../nce';
import { flaggedRecord, type FlaggedRecord, type RecentTraffic } from '../metrics';
import { holdModel, type ServedModel } from './model-cache';
import type { TimedExplanations } from './scorer';
import type { ScoreColumns } from './scoring-protocol';

/** Most flagged records of one batch added to the console's sample: its last ones. */
export const SAMPLE_PER_BATCH = 4;

/**
 * Adds the last flagged records of a scored batch to the console's sample ({@link RecentTraffic}),
 * explained. The caller keeps a batch's records only when the sample wants them
 * ({@link RecentTraffic.wantsSample}), so most batches cost nothing here. Explanations a request
 * asked for are reused; others are computed after the answer is sent by `explainer` (on a scoring
 * thread where there is one), holding the model so that a swap meanwhile cannot dispose it.
 * Failures only cost the sample.
 */
export function sampleFlagged(
  traffic: RecentTraffic,
  model: ServedModel,
  records: readonly DataRecord[],
  scored: ScoreColumns,
  logger: Logger,
  explainer: (records: readonly DataRecord[]) => Promise<TimedExplanations>,
  explained?: readonly Explanation[],
): void {
  if (scored.flagged === 0) return;
  const calibration = model.manifest.calibration;
  const picked: number[] = [];
  for (let i = records.length - 1; i >= 0 && picked.length < SAMPLE_PER_BATCH; i--) if (isFlagged(calibration, scored.score[i])) picked.unshift(i);
  if (picked.length === 0) return;
  const at = new Date().toISOString();
  const features = model.manifest.schema.map((f) => f.name);
  const entries = (explanations: readonly Explanation[]): FlaggedRecord[] =>
    picked.map((i, k) =>
      flaggedRecord({ at, version: model.version, score: scored.score[i], percentile: scored.percentile[i] }, records[i], explanations[k].contributions, features, traffic.options.keepValues),
    );
  if (explained) {
    traffic.sampled(model.name, model.version, entries(picked.map((i) => explained[i])), 0);
    return;
  }
  // Batches scored while this sample is explained (others may have kept their records already)
  // add nothing: one sample at a time.
  if (!traffic.wantsSample(model.name)) return;
  traffic.sampling(model.name, model.version);
  const release = holdModel(model);
  setImmediate(() => {
    Promise.resolve()
      .then(() => explainer(picked.map((i) => records[i])))
      .then(
        // Paced by the explaining's own cost, not by time spent waiting for a thread.
        ({ explanations, costMs }) => traffic.sampled(model.name, model.version, entries(explanations), costMs),
        (e: unknown) => {
          traffic.sampleFailed(model.name, model.version);
          logger.warn({ model: model.name, version: model.version, err: messageOf(e) }, 'flagged records could not be explained for the console');
        },
      )
      .finally(release);
  });
}
