import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { JobQueue } from '../queue';
import { type DatasetStore, type ModelStore, NAME_PATTERN } from '../store';
import { body } from './request-body';
import { AppError } from '../errors';
import { checkTrainable, checkTrainingConfig, lookupDatasetName, onlyQuery, queryError, requestError, validName } from './validation';

/** The body of `POST /v1/models/{name}/train` (the config is validated by the engine's own schema). */
export const trainRequestSchema = z.object({ dataset: z.string(), config: z.unknown().optional(), allowSchemaChange: z.boolean().optional() }).strict();

/** The query of `GET /v1/jobs`. */
export const jobListQuerySchema = z
  .object({
    // Empty (`?model=`, a client's variable left unset) is refused: read as no filter, or as a name
    // no model has, it would list every model's jobs or none, and say nothing of the mistake.
    model: z.string().min(1, 'a model name; leave the parameter out to list every model\'s jobs').optional(),
    state: z.enum(['queued', 'running', 'completed', 'failed']).optional(),
    // Digits only: "1e3", "0x10" or " 50" are not what a client meant to send.
    limit: z.string().regex(/^[0-9]+$/, 'expected a whole number of digits').transform(Number).pipe(z.number().int().min(1).max(1000)).default(50),
  })
  .strict();

/** The Retry-After of a QUEUE_FULL answer: about what a small training takes. */
export const QUEUE_FULL_RETRY_SECONDS = 30;

/** Training requests and job status. */
export function jobsRouter(deps: { datasets: DatasetStore; models: ModelStore; queue: JobQueue; maxBytes: number; maxQueued: number; maxTrainingValues: number; readAuth: RequestHandler[]; writeAuth: RequestHandler[] }): Router {
  const router = Router();

  router.post('/v1/models/:name/train', ...deps.writeAuth, body(deps.maxBytes), async (req, res) => {
    const model = validName(req.params.name, 'model');
    onlyQuery(req.query, []);
    const parsed = trainRequestSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues, trainRequestSchema);
    const dataset = lookupDatasetName(parsed.data.dataset, '/dataset');
    await checkTrainable(deps.datasets, dataset, checkTrainingConfig(parsed.data.config), deps.maxTrainingValues);
    // Counted before adding: concurrent requests may pass it together, so the bound holds to
    // within the requests in flight.
    const { queued } = await deps.queue.counts();
    if (queued >= deps.maxQueued) {
      res.set('Retry-After', String(QUEUE_FULL_RETRY_SECONDS));
      throw new AppError('QUEUE_FULL', `${queued} training jobs wait to run, MAX_QUEUED_JOBS is ${deps.maxQueued}: nothing was enqueued; retry in ${QUEUE_FULL_RETRY_SECONDS} s`);
    }
    const job = await deps.queue.enqueue({ kind: 'train', model, dataset, config: parsed.data.config ?? {}, ...(parsed.data.allowSchemaChange ? { allowSchemaChange: true } : {}) });
    res.status(202).location(`/v1/jobs/${job.id}`).json({ jobId: job.id, state: job.state });
  });

  router.get('/v1/jobs', ...deps.readAuth, async (req, res) => {
    onlyQuery(req.query, Object.keys(jobListQuerySchema.shape));
    const parsed = jobListQuerySchema.safeParse(req.query);
    if (!parsed.success) throw queryError(parsed.error.issues[0]);
    const { model, state, limit } = parsed.data;
    // A filter by a name no model could have matches no job, as one of a model never trained does.
    if (model !== undefined && !NAME_PATTERN.test(model)) return void res.json({ jobs: [] });
    res.json({ jobs: await deps.queue.list({ limit, ...(model === undefined ? {} : { model }), ...(state === undefined ? {} : { state }) }) });
  });

  router.get('/v1/jobs/:id', ...deps.readAuth, async (req, res) => {
    onlyQuery(req.query, []);
    const job = await deps.queue.get(String(req.params.id));
    if (!job) throw new AppError('NOT_FOUND', `job "${String(req.params.id)}" does not exist`);
    res.json(job);
  });

  router.delete('/v1/jobs/:id', ...deps.writeAuth, async (req, res) => {
    onlyQuery(req.query, []);
    const id = String(req.params.id);
    const job = await deps.queue.get(id);
    if (!job) throw new AppError('NOT_FOUND', `job "${id}" does not exist`);
    if (job.state === 'completed' || job.state === 'failed') throw new AppError('JOB_FINISHED', `job "${id}" has already ${job.state}: there is nothing to cancel (GET /v1/jobs/${id} shows what it did)`);
    const after = await deps.queue.cancel(id, { code: 'JOB_CANCELLED', message: `cancelled by DELETE /v1/jobs/${id} while it ${job.state === 'queued' ? 'waited' : 'trained'}: nothing was saved` });
    // Finished meanwhile (a run already saving its version completes): nothing was cancelled. A
    // worker's run saved its version just before the cancel's mark and is completing (the queue
    // still says running): it completes, so the answer says so, not that nothing was saved (an
    // outside probe: 2 of 20 cancels sent at the last epoch answered 202 "running", and the
    // versions were promoted).
    // The same where the queue has it queued again: a run that saved its version, then lost its
    // lock, is handed back to the queue, and the next run finishes that version.
    const saved = after?.state === 'running' || after?.state === 'queued' ? await deps.models.versionOfJob(job.payload.model, id) : null;
    if (after?.state === 'completed' || saved !== null) throw new AppError('JOB_FINISHED', `job "${id}" completed while it was being cancelled: its version${saved === null ? '' : ` ${saved}`} is saved (GET /v1/jobs/${id} shows it)`);
    res.status(202).location(`/v1/jobs/${id}`).json(after ?? job);
  });
  return router;
}
