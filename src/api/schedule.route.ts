import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { cronProblem, type Scheduler } from '../queue';
import { body } from './body';
import { AppError } from './errors';
import type { DatasetStore } from '../store';
import { checkTrainable, checkTrainingConfig, requestError, validName } from './validation';

/** The body of `PUT /v1/models/{name}/schedule`. */
export const scheduleRequestSchema = z.object({ cron: z.string().min(1).max(200), dataset: z.string(), config: z.unknown().optional() }).strict();

/** Cron retraining per model. */
export function scheduleRouter(deps: { scheduler: Scheduler; datasets: DatasetStore; maxBytes: number; readAuth: RequestHandler[]; writeAuth: RequestHandler[] }): Router {
  const router = Router();
  const model = (raw: unknown): string => validName(raw, 'model');
  router.put('/v1/models/:name/schedule', ...deps.writeAuth, body(deps.maxBytes), async (req, res) => {
    const name = model(req.params.name);
    const parsed = scheduleRequestSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    const problem = cronProblem(parsed.data.cron);
    if (problem) throw new AppError('INVALID_REQUEST', `cron: ${problem}`, '/cron');
    const dataset = validName(parsed.data.dataset, 'dataset');
    checkTrainingConfig(parsed.data.config);
    await checkTrainable(deps.datasets, dataset);
    res.json(await deps.scheduler.put(name, { cron: parsed.data.cron, dataset, ...(parsed.data.config === undefined ? {} : { config: parsed.data.config }) }));
  });
  router.get('/v1/models/:name/schedule', ...deps.readAuth, async (req, res) => {
    const s = await deps.scheduler.get(model(req.params.name));
    if (!s) throw new AppError('NOT_FOUND', `model "${String(req.params.name)}" has no schedule`);
    res.json(s);
  });
  router.delete('/v1/models/:name/schedule', ...deps.writeAuth, async (req, res) => {
    if (!(await deps.scheduler.delete(model(req.params.name)))) throw new AppError('NOT_FOUND', `model "${String(req.params.name)}" has no schedule`);
    res.status(204).end();
  });
  return router;
}
