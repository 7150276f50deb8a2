import { Router } from 'express';
import { z } from 'zod';
import { explain, type DataRecord, type ScoreResult } from '../nce';
import type { Metrics } from '../metrics';
import { body } from './body';
import { AppError } from './errors';
import { fieldValue, lookupModelName, requestError } from './validation';
import type { ModelCache, ServedModel } from './model-cache';
import type { RequestHandler } from 'express';

/** The body of `POST /v1/models/{name}/score`. */
export const scoreRequestSchema = z
  .object({
    records: z.array(z.record(z.string(), fieldValue)).min(1),
    explain: z.boolean().optional(),
  })
  .strict();

/** Scoring route: validates the body, scores in order, names the model version. */
export function scoreRouter(deps: { models: ModelCache; metrics: Metrics; maxBatch: number; maxBytes: number; auth: RequestHandler }): Router {
  const router = Router();
  router.post('/v1/models/:name/score', deps.auth, ...body(deps.maxBytes), async (req, res) => {
    const name = lookupModelName(req.params.name);
    const input: unknown = req.body;
    const records = (input as { records?: unknown } | undefined)?.records;
    if (Array.isArray(records) && records.length > deps.maxBatch) {
      throw new AppError('BATCH_TOO_LARGE', `${records.length} records in one request; the limit is ${deps.maxBatch}`, '/records');
    }
    const parsed = scoreRequestSchema.safeParse(input);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    const model = await deps.models.get(name);
    const recs = parsed.data.records as DataRecord[];
    const results = model.detector.score(recs);
    const explanations = parsed.data.explain ? explain(model.detector, recs) : null;
    observe(deps.metrics, model, recs, results);
    res.json({
      model: name,
      version: model.version,
      results: explanations ? results.map((r, i) => ({ ...r, contributions: explanations[i].contributions })) : results,
    });
  });
  return router;
}

/** Counts, score histograms and the drift window of one scored batch. */
function observe(metrics: Metrics, model: ServedModel, records: readonly DataRecord[], results: readonly ScoreResult[]): void {
  const labels = { model: model.name };
  const score = metrics.score.labels(labels);
  const percentile = metrics.scorePercentile.labels(labels);
  let flagged = 0;
  for (const r of results) {
    if (r.ood) flagged++;
    score.observe(r.score);
    percentile.observe(r.percentile);
  }
  metrics.scoredRecords.inc(labels, results.length);
  if (flagged) metrics.flaggedRecords.inc(labels, flagged);
  metrics.drift.observe(model.name, model.version, model.manifest.featureReference, records, results);
}
