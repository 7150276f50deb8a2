import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { cronProblem, type JobInfo, type JobQueue, type ScheduleInfo, type Scheduler, timezoneProblem } from '../queue';
import { body } from './request-body';
import { AppError } from '../errors';
import { type DatasetStore, type ModelStore, NAME_PATTERN } from '../store';
import { checkTrainable, checkTrainingConfig, lookupDatasetName, onlyQuery, requestError, validName } from './validation';

/** The body of `PUT /v1/models/{name}/schedule`. */
export const scheduleRequestSchema = z.object({ cron: z.string().min(1).max(200), dataset: z.string(), config: z.unknown().optional(), timezone: z.string().min(1).max(64).optional() }).strict();

/** Cron retraining per model. */
export function scheduleRouter(deps: { scheduler: Scheduler; datasets: DatasetStore; models: Pick<ModelStore, 'deletedAt'>; queue: JobQueue; maxBytes: number; maxTrainingValues: number; readAuth: RequestHandler[]; writeAuth: RequestHandler[] }): Router {
  const router = Router();
  const model = (raw: unknown): string => validName(raw, 'model');
  const noSchedule = (raw: unknown): AppError => new AppError('NOT_FOUND', `model "${String(raw)}" has no schedule`);
  // Looked up: a name no model could have has no schedule (404), as when it has none.
  const scheduled = (raw: unknown): string => {
    if (!NAME_PATTERN.test(String(raw))) throw noSchedule(raw);
    return String(raw);
  };
  router.put('/v1/models/:name/schedule', ...deps.writeAuth, body(deps.maxBytes), async (req, res) => {
    const name = model(req.params.name);
    onlyQuery(req.query, []);
    const parsed = scheduleRequestSchema.safeParse(req.body);
    if (!parsed.success) throw requestError(parsed.error.issues, scheduleRequestSchema);
    const { cron, timezone, config } = parsed.data;
    const problem = cronProblem(cron);
    if (problem) throw new AppError('INVALID_REQUEST', `cron: ${problem}`, '/cron');
    const zoneProblem = timezone === undefined ? null : timezoneProblem(timezone);
    if (zoneProblem) throw new AppError('INVALID_REQUEST', `timezone: ${zoneProblem}`, '/timezone');
    const dataset = lookupDatasetName(parsed.data.dataset, '/dataset');
    await checkTrainable(deps.datasets, dataset, checkTrainingConfig(config), deps.maxTrainingValues);
    const info = await deps.scheduler.put(name, { cron, dataset, ...(config === undefined ? {} : { config }), ...(timezone === undefined ? {} : { timezone }) }, await deps.models.deletedAt(name));
    res.json(await withLastRun(deps.queue, info));
  });
  router.get('/v1/schedules', ...deps.readAuth, async (req, res) => {
    onlyQuery(req.query, []);
    // Found by model, whether or not the model has a version yet (a schedule of a name never trained, or of a dataset since deleted).
    res.json({ schedules: await deps.scheduler.list() });
  });
  router.get('/v1/models/:name/schedule', ...deps.readAuth, async (req, res) => {
    onlyQuery(req.query, []);
    const s = await deps.scheduler.get(scheduled(req.params.name));
    if (!s) throw noSchedule(req.params.name);
    res.json(await withLastRun(deps.queue, s));
  });
  router.delete('/v1/models/:name/schedule', ...deps.writeAuth, async (req, res) => {
    onlyQuery(req.query, []);
    if (!(await deps.scheduler.delete(scheduled(req.params.name)))) throw noSchedule(req.params.name);
    res.status(204).end();
  });
  return router;
}

/** Jobs looked through for a schedule's last run: the model's newest. */
const LAST_RUN_WINDOW = 100;

/**
 * A schedule with its last run: the newest job it enqueued that has started (running, or finished
 * with its result or error), or null. Not one still queued: in distributed mode that is the next
 * run, which BullMQ enqueues ahead as a delayed job, and it hid a last run that had failed.
 */
async function withLastRun(queue: JobQueue, info: ScheduleInfo): Promise<ScheduleInfo & { lastRun: JobInfo | null }> {
  const jobs = await queue.list({ model: info.model, limit: LAST_RUN_WINDOW });
  // Only this schedule's runs: not those of an earlier schedule of the model, since deleted.
  const its = (j: JobInfo): boolean => j.payload.trigger === 'schedule' && j.payload.scheduleSince === info.since;
  return { ...info, lastRun: jobs.find((j) => its(j) && j.state !== 'queued') ?? null };
}
