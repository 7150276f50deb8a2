import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { resolveTrainingConfig } from '../nce';
import type { JobQueue } from '../queue';
import type { DatasetStore } from '../store';
import { NAME_PATTERN } from '../store';
import { body } from './body';
import { datasetName } from './datasets.route';
import { AppError, toAppError } from './errors';
import { requestError } from './validation';

/** The body of `POST /v1/models/{name}/train` (the config is validated by the engine's own schema). */
export const trainRequestSchema = z.object({ dataset: z.string(), config: z.unknown().optional() }).strict();

/** Training requests and job status. */
export function jobsRouter(deps: { datasets: DatasetStore; queue: JobQueue; maxBytes: number; readAuth: RequestHandler; writeAuth: RequestHandler }): Router {
  const router = Router();

  router.post('/v1/models/:name/train', deps.writeAuth, ...body(deps.maxBytes), async (req, res) => {
    const model = String(req.params.name);
    if (!NAME_PATTERN.test(model)) throw new AppError('INVALID_REQUEST', 'a model name is 1-64 letters, digits, "_" or "-", starting with a letter or digit', '/name');
    const parsed = trainRequestSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    const dataset = datasetName(parsed.data.dataset);
    try {
      resolveTrainingConfig(parsed.data.config ?? {});
    } catch (e: unknown) {
      throw toAppError(e);
    }
    if (!(await deps.datasets.info(dataset))) throw new AppError('NOT_FOUND', `dataset "${dataset}" does not exist`, '/dataset');
    const job = await deps.queue.enqueue({ kind: 'train', model, dataset, config: parsed.data.config ?? {} });
    res.status(202).location(`/v1/jobs/${job.id}`).json({ jobId: job.id, state: job.state });
  });

  router.get('/v1/jobs/:id', deps.readAuth, async (req, res) => {
    const job = await deps.queue.get(String(req.params.id));
    if (!job) throw new AppError('NOT_FOUND', `job "${String(req.params.id)}" does not exist`);
    res.json(job);
  });
  return router;
}
