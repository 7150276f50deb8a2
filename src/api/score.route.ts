import { Router } from 'express';
import { z } from 'zod';
import { explain, type DataRecord } from '../nce';
import type { Metrics } from '../metrics';
import { NAME_PATTERN } from '../store';
import { body } from './body';
import { AppError } from './errors';
import { fieldValue, requestError } from './validation';
import type { ModelCache } from './model-cache';
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
    const name = String(req.params.name);
    if (!NAME_PATTERN.test(name)) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
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
    let flagged = 0;
    for (const r of results) if (r.ood) flagged++;
    deps.metrics.scoredRecords.inc({ model: name }, results.length);
    if (flagged) deps.metrics.flaggedRecords.inc({ model: name }, flagged);
    res.json({
      model: name,
      version: model.version,
      results: explanations ? results.map((r, i) => ({ ...r, contributions: explanations[i].contributions })) : results,
    });
  });
  return router;
}
