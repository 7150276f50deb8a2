import { Router, type RequestHandler } from 'express';
import { expectedFlaggedShare, isArtifactFault } from '../nce';
import { deletedMeanwhile, describeVersions, listedModel, type ModelStore } from '../store';
import { AppError } from '../errors';
import { enqueuedAt, type JobQueue, type Scheduler } from '../queue';
import type { ModelCache } from '../serving';
import { lookupModelName, onlyQuery } from './validation';

/** Read-only registry routes: the model list and the current version's manifest summary. */
export function modelsRouter(deps: { store: ModelStore; models: ModelCache; scheduler: Scheduler; queue: JobQueue; auth: RequestHandler[]; adminAuth: RequestHandler[] }): Router {
  const router = Router();
  router.get('/v1/models', ...deps.auth, async (req, res) => {
    // No parameters: a `?limit=` that would be ignored is refused instead.
    onlyQuery(req.query, []);
    const names = await deps.store.names();
    const models = await Promise.all(
      names.map(async (name) => {
        const listed = await listedModel(deps.store, name);
        return listed && { name, ...listed };
      }),
    );
    res.json({ models: models.filter((m) => m !== null) });
  });
  router.get('/v1/models/:name', ...deps.auth, async (req, res) => {
    const name = lookupModelName(req.params.name);
    onlyQuery(req.query, []);
    const { version, manifest } = await deps.models.get(name);
    res.json({
      name,
      version,
      createdAt: manifest.createdAt,
      // An artifact from before hasOther was recorded pools, as the encoding reads it (absent is true).
      features: manifest.schema.map((f) => ({ name: f.name, kind: f.kind, hasMissing: f.hasMissing, ...(f.kind === 'categorical' ? { categories: f.categories.length, unseenValues: f.hasOther === false ? ('flagged' as const) : ('pooled' as const) } : {}) })),
      scoreKind: manifest.scoreKind,
      noise: manifest.noise.spec,
      calibration: {
        targetFpr: manifest.calibration.targetFpr,
        ...(manifest.calibration.contamination ? { contamination: manifest.calibration.contamination } : {}),
        ...(manifest.calibration.tailShare ? { tailShare: manifest.calibration.tailShare } : {}),
        ...(manifest.calibration.novelty ? { novelty: manifest.calibration.novelty } : {}),
        threshold: manifest.calibration.threshold,
        referenceCount: manifest.calibration.referenceCount,
        expectedFlaggedShare: expectedFlaggedShare(manifest.calibration),
      },
      training: { trainRows: manifest.training.trainRows, validationRows: manifest.training.validationRows, valAuc: manifest.training.valAuc, seconds: manifest.training.seconds, ...(manifest.training.warnings ? { warnings: manifest.training.warnings } : {}) },
      dataset: manifest.dataset,
      backend: manifest.backend,
    });
  });
  router.get('/v1/models/:name/versions', ...deps.auth, async (req, res) => {
    const name = lookupModelName(req.params.name);
    onlyQuery(req.query, []);
    const versions = await describeVersions(deps.store, name);
    if (versions.length === 0) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    res.json({ name, versions });
  });
  router.post('/v1/models/:name/versions/:version/promote', ...deps.adminAuth, async (req, res) => {
    const name = lookupModelName(req.params.name);
    onlyQuery(req.query, []);
    const version = String(req.params.version);
    const versions = await deps.store.versions(name);
    if (versions.length === 0) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist: it has no version to promote`);
    if (!versions.includes(version)) throw new AppError('VERSION_NOT_FOUND', `model "${name}" has no version "${version}"`);
    try {
      await deps.store.promote(name, version);
    } catch (e: unknown) {
      // Deleted since the check above (a DELETE raced this promote): not found, not damaged.
      const gone = (e instanceof AppError && e.code === 'VERSION_NOT_FOUND') || !(await deps.store.versions(name)).includes(version);
      if (gone) throw new AppError('VERSION_NOT_FOUND', `model "${name}" has no version "${version}" (deleted meanwhile)`);
      if (isArtifactFault(e)) throw new AppError('VERSION_DAMAGED', `version ${version} of "${name}" cannot be promoted: ${e.message}`);
      throw e;
    }
    // Scoring here switches at once, not at the cache's next check of the store.
    deps.models.announce(name);
    res.json({ name, version, current: true });
  });
  router.delete('/v1/models/:name', ...deps.adminAuth, async (req, res) => {
    const name = lookupModelName(req.params.name);
    // Refused, not ignored: `?version=` ignored would delete every version of the model.
    onlyQuery(req.query, [], 'it deletes the model with every version; a single version cannot be deleted (MODEL_KEEP_VERSIONS prunes old ones)');
    // Its schedule goes with it: left behind, the next run would train the model back. Training
    // jobs enqueued before the delete save nothing (they fail with MODEL_DELETED), the model's
    // first training too: a model that is only being trained is a model to delete.
    // A job enqueued before an earlier delete is already doomed (it fails at its start): it does
    // not make the model one to delete again.
    const asked = (await deps.queue.now()).toISOString();
    const since = (await deps.store.deletedAt(name))?.toISOString() ?? '';
    // The schedule before the model: a run it fires until it is gone is enqueued before the
    // model's deletion, and so fails with MODEL_DELETED. Unscheduled after, a run fired between
    // the two was newer than the deletion and trained the model back (an outside probe: 2 of 12
    // deletes sent just before a firing).
    // A full store that refuses the schedule's removal does not refuse the model's: the model goes
    // first then, which frees its space, and the schedule after it.
    const full = (e: unknown): null => {
      if (e instanceof AppError && e.code === 'STORAGE_FULL') return null;
      throw e;
    };
    let unscheduled = await deps.scheduler.delete(name).catch(full);
    const deleted = await deps.store.delete(name);
    let scheduleLeft: unknown = null;
    if (unscheduled === null) {
      unscheduled = await deps.scheduler.delete(name).catch((e: unknown) => {
        scheduleLeft = full(e) ?? e;
        return false;
      });
    }
    const pending = [...(await deps.queue.list({ model: name, state: 'running', limit: 1_000 })), ...(await deps.queue.list({ model: name, state: 'queued', limit: 1_000 }))];
    if (!deleted && !unscheduled && !pending.some((j) => j.createdAt > since)) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    deps.models.announce(name);
    // Its jobs stop now rather than train on for nothing (they could save nothing anyway); not one
    // enqueued since this request came, which trains the model anew.
    const stop = deletedMeanwhile(name);
    await Promise.all(pending.filter((j) => enqueuedAt(j.payload, Date.parse(j.createdAt)).toISOString() < asked).map((j) => deps.queue.cancel(j.id, { code: stop.code, message: stop.message })));
    // Still too full to take the schedule away: the model is deleted, and the answer says what is left.
    if (scheduleLeft !== null) throw new AppError('STORAGE_FULL', `model "${name}" was deleted, but the store is still too full to take its schedule away: free more space, then DELETE /v1/models/${name}/schedule (its runs fail with MODEL_DELETED until then, each a training for nothing)`);
    res.status(204).end();
  });
  return router;
}

