import { Router, type RequestHandler } from 'express';
import type { ModelStore } from '../store';
import { NAME_PATTERN } from '../store';
import { AppError } from './errors';
import type { ModelCache } from './model-cache';

/** Read-only registry routes: the model list and the current version's manifest summary. */
export function modelsRouter(deps: { store: ModelStore; models: ModelCache; auth: RequestHandler }): Router {
  const router = Router();
  router.get('/v1/models', deps.auth, async (_req, res) => {
    const names = await deps.store.list();
    const models = await Promise.all(names.map(async (name) => ({ name, version: await deps.store.currentVersion(name) })));
    res.json({ models });
  });
  router.get('/v1/models/:name', deps.auth, async (req, res) => {
    const name = String(req.params.name);
    if (!NAME_PATTERN.test(name)) throw new AppError('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const { version, manifest } = await deps.models.get(name);
    res.json({
      name,
      version,
      createdAt: manifest.createdAt,
      features: manifest.schema.map((f) => ({ name: f.name, kind: f.kind, hasMissing: f.hasMissing })),
      scoreKind: manifest.scoreKind,
      noise: manifest.noise.spec,
      calibration: { targetFpr: manifest.calibration.targetFpr, threshold: manifest.calibration.threshold, referenceCount: manifest.calibration.referenceCount },
      training: { trainRows: manifest.training.trainRows, validationRows: manifest.training.validationRows, valAuc: manifest.training.valAuc, seconds: manifest.training.seconds },
      dataset: manifest.dataset,
      backend: manifest.backend,
    });
  });
  return router;
}
