import { Router } from 'express';
import { z } from 'zod';
import { explain, type DataRecord } from '../nce';
import type { Metrics } from '../metrics';
import { NAME_PATTERN } from '../store';
import { AppError, escapePointer } from './errors';
import type { ModelCache } from './model-cache';
import type { RequestHandler } from 'express';

const fieldValue = z.union([z.number(), z.string(), z.null()]);

/** The body of `POST /v1/models/{name}/score`. */
export const scoreRequestSchema = z
  .object({
    records: z.array(z.record(z.string(), fieldValue)).min(1),
    explain: z.boolean().optional(),
  })
  .strict();

/** Scoring route: validates the body, scores in order, names the model version. */
export function scoreRouter(deps: { models: ModelCache; metrics: Metrics; maxBatch: number; auth: RequestHandler }): Router {
  const router = Router();
  router.post('/v1/models/:name/score', deps.auth, async (req, res) => {
    const name = String(req.params.name);
    if (!NAME_PATTERN.test(name)) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const body: unknown = req.body;
    const records = (body as { records?: unknown } | undefined)?.records;
    if (Array.isArray(records) && records.length > deps.maxBatch) {
      throw new AppError('BATCH_TOO_LARGE', `${records.length} records in one request; the limit is ${deps.maxBatch}`, '/records');
    }
    const parsed = scoreRequestSchema.safeParse(body);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    const model = await deps.models.get(name);
    const input = parsed.data.records as DataRecord[];
    const results = model.detector.score(input);
    const explanations = parsed.data.explain ? explain(model.detector, input) : null;
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

function requestError(issue: z.core.$ZodIssue): AppError {
  const path = issue.path.map((p) => String(p));
  const pointer = '/' + path.map(escapePointer).join('/');
  if (path[0] === 'records' && path.length >= 3) {
    return new AppError('INVALID_RECORD', `record ${path[1]} field "${path[2]}" must be a number, a string or null`, pointer);
  }
  if (path[0] === 'records' && path.length === 2) return new AppError('INVALID_RECORD', `record ${path[1]} must be an object`, pointer);
  return new AppError('INVALID_REQUEST', `${path.length ? path.join('.') : 'body'}: ${issue.message}`, pointer === '/' ? '' : pointer);
}
