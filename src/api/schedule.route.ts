import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { resolveTrainingConfig } from '../nce';
import { cronProblem, type Scheduler } from '../queue';
import { NAME_PATTERN } from '../store';
import { body } from './body';
import { datasetName } from './datasets.route';
import { AppError, toAppError } from './errors';
import { requestError } from './validation';

/** The body of `PUT /v1/models/{name}/schedule`. */
export const scheduleRequestSchema = z.object({ cron: z.string().min(1).max(200), dataset: z.string(), config: z.unknown().optional() }).strict();

/** Cron retraining per model. */
export function scheduleRouter(deps: { scheduler: Scheduler; maxBytes: number; readAuth: RequestHandler; writeAuth: RequestHandler }): Router {
  const router = Router();
  const model = (raw: unknown): string => {
    const name = String(raw);
    if (!NAME_PATTERN.test(name)) throw new AppError('INVALID_REQUEST', 'a model name is 1-64 letters, digits, "_" or "-", starting with a letter or digit', '/name');
    return name;
  };
  router.put('/v1/models/:name/schedule', deps.writeAuth, ...body(deps.maxBytes), async (req, res) => {
    const name = model(req.params.name);
    const parsed = scheduleRequestSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    const problem = cronProblem(parsed.data.cron);
    if (problem) throw new AppError('INVALID_REQUEST', `cron: ${problem}`, '/cron');
    const dataset = datasetName(parsed.data.dataset);
    try {
      resolveTrainingConfig(parsed.data.config ?? {});
    } catch (e: unknown) {
      throw toAppError(e);
    }
    res.json(await deps.scheduler.put(name, { cron: parsed.data.cron, dataset, ...(parsed.data.config === undefined ? {} : { config: parsed.data.config }) }));
  });
  router.get('/v1/models/:name/schedule', deps.readAuth, async (req, res) => {
    const s = await deps.scheduler.get(model(req.params.name));
    if (!s) throw new AppError('NOT_FOUND', `model "${String(req.params.name)}" has no schedule`);
    res.json(s);
  });
  router.delete('/v1/models/:name/schedule', deps.writeAuth, async (req, res) => {
    if (!(await deps.scheduler.delete(model(req.params.name)))) throw new AppError('NOT_FOUND', `model "${String(req.params.name)}" has no schedule`);
    res.status(204).end();
  });
  return router;
}
