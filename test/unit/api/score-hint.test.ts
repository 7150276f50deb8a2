import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import pino from 'pino';
import { SCORE_PATH, scoreHandlers } from '../../../src/api/score.route';
import { AppError, NoVersionError } from '../../../src/errors';
import type { JobInfo, JobQueue } from '../../../src/queue';
import type { ModelCache, Scorer } from '../../../src/serving';
import type { Metrics } from '../../../src/metrics';
import { pendingTrainings } from '../../../src/api/app';
import type { ModelStore } from '../../../src/store';

/** The scoring route alone, over a model cache that knows no model, with a counted training lookup. */
function route(trainingOf: (model: string) => Promise<JobInfo | null>) {
  const models = { fresh: () => null, get: (name: string) => Promise.reject(name === 'held' ? new AppError('MODEL_NOT_FOUND', `model "held" has no current version: its version is a candidate`) : new NoVersionError(name)) } as unknown as ModelCache;
  const app = express();
  app.post(SCORE_PATH, ...scoreHandlers({ models, scorer: {} as Scorer, metrics: {} as Metrics, maxBatch: 10, maxExplain: 10, maxBytes: 1e5, auth: [], logger: pino({ level: 'silent' }), trainingOf }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err instanceof AppError ? 404 : 500).json({ detail: (err as Error).message });
  });
  return app;
}

describe("the scoring route's 404 for a model not trained yet", () => {
  it('names the queued or running job, and none for a model nobody trains', async () => {
    const app = route(async (model) => {
      await new Promise((r) => setTimeout(r, 20));
      return model === 'soon' || model === 'held' ? ({ id: 'j1', state: 'running' } as JobInfo) : null;
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => request(app).post('/v1/models/soon/score').send({ records: [{ a: 1 }] })));
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.body.detail).toBe('model "soon" does not exist or has no version yet: its training, job j1, is running; score it once GET /v1/jobs/j1 says completed');
    }
    expect((await request(app).post('/v1/models/never/score').send({ records: [{ a: 1 }] })).body.detail).toBe('model "never" does not exist or has no version');
    // A model whose versions are all candidates has its own answer, whatever the queue holds.
    expect((await request(app).post('/v1/models/held/score').send({ records: [{ a: 1 }] })).body.detail).toBe('model "held" has no current version: its version is a candidate');
  });

  it('leaves the 404 as it was when the queue cannot answer', async () => {
    const app = route(() => Promise.reject(new Error('redis down')));
    const a = await request(app).post('/v1/models/soon/score').send({ records: [{ a: 1 }] });
    expect(a.status).toBe(404);
    expect(a.body.detail).toBe('model "soon" does not exist or has no version');
  });
});

describe('pendingTrainings', () => {
  it("reads the queue's pending jobs once for many model names at once, and names no job enqueued before its model was deleted", async () => {
    let listings = 0;
    const job = (id: string, model: string, createdAt: string): JobInfo => ({ id, state: 'queued', payload: { kind: 'train', model, dataset: 'd', config: {} }, progress: [], createdAt });
    const queue = {
      list: async ({ state }: { state: string }) => {
        listings++;
        return state === 'queued' ? [job('j1', 'soon', '2026-01-01T00:00:02Z'), job('j0', 'gone', '2026-01-01T00:00:00Z')] : [];
      },
    } as unknown as JobQueue;
    const store = { deletedAt: async (model: string) => (model === 'gone' ? new Date('2026-01-01T00:00:01Z') : null) } as unknown as ModelStore;
    const trainingOf = pendingTrainings(queue, store);
    const found = await Promise.all(Array.from({ length: 50 }, (_, i) => trainingOf(`unknown-${i}`)));
    expect(found.every((j) => j === null)).toBe(true);
    expect((await trainingOf('soon'))?.id).toBe('j1');
    expect(await trainingOf('gone')).toBeNull();
    // One listing of the running jobs and one of the queued, for all 52 names.
    expect(listings).toBe(2);
  });
});
