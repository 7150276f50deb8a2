import request from 'supertest';
import { eventually } from '../helpers/processes';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/** Cancelling training jobs through the API, in embedded mode (distributed mode: test/e2e/distributed.test.ts). */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

/** Far longer than the test: only a cancellation ends it. */
const LONG = { epochs: 1000, patience: 1000, kernelPartner: false };

it('DELETE /v1/jobs/{id} stops a running job and a queued one: both fail with JOB_CANCELLED and save nothing; a finished job is a 409, an unknown one a 404; the queue goes on', async () => {
  const { app } = running.service;
  const rows = Array.from({ length: 300 }, (_, i) => ({ a: (i * 7) % 31, b: (i * 13) % 17 }));
  expect((await request(app).put('/v1/datasets/c').send({ records: rows })).status).toBe(200);
  const first = (await request(app).post('/v1/models/c1/train').send({ dataset: 'c', config: LONG })).body.jobId as string;
  const second = (await request(app).post('/v1/models/c2/train').send({ dataset: 'c', config: LONG })).body.jobId as string;
  await eventually(async () => ((await request(app).get(`/v1/jobs/${first}`)).body.progress.length > 0 ? true : undefined), 30_000, 'the first job to train');

  const queued = await request(app).delete(`/v1/jobs/${second}`);
  expect(queued.status).toBe(202);
  expect(queued.headers.location).toBe(`/v1/jobs/${second}`);
  expect(queued.body).toMatchObject({ id: second, state: 'failed', error: { code: 'JOB_CANCELLED', message: expect.stringContaining('while it waited') } });
  const started = Date.now();
  const trained = await request(app).delete(`/v1/jobs/${first}`);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(trained.body).toMatchObject({ id: first, state: 'failed', error: { code: 'JOB_CANCELLED', message: expect.stringContaining('while it trained: nothing was saved') } });
  expect((await request(app).get('/v1/models/c1/versions')).status).toBe(404);

  const again = await request(app).delete(`/v1/jobs/${first}`);
  expect(again.status).toBe(409);
  expect(again.type).toBe('application/problem+json');
  expect(again.body).toMatchObject({ code: 'JOB_FINISHED', detail: expect.stringContaining('has already failed') });
  expect((await request(app).delete('/v1/jobs/no-such-job')).status).toBe(404);
  expect((await request(app).delete(`/v1/jobs/${first}?force=1`)).status).toBe(400);

  const next = (await request(app).post('/v1/models/c3/train').send({ dataset: 'c', config: { epochs: 2 } })).body.jobId as string;
  await eventually(async () => ((await request(app).get(`/v1/jobs/${next}`)).body.state === 'completed' ? true : undefined), 30_000, 'the next job to complete');
}, 90_000);

it('deleting a model stops its running training at once, which fails with MODEL_DELETED, instead of training on for nothing', async () => {
  const { app } = running.service;
  const rows = Array.from({ length: 300 }, (_, i) => ({ a: (i * 5) % 29, b: (i * 11) % 19 }));
  expect((await request(app).put('/v1/datasets/m').send({ records: rows })).status).toBe(200);
  const job = (await request(app).post('/v1/models/gone/train').send({ dataset: 'm', config: LONG })).body.jobId as string;
  await eventually(async () => ((await request(app).get(`/v1/jobs/${job}`)).body.progress.length > 0 ? true : undefined), 30_000, 'the job to train');
  expect((await request(app).delete('/v1/models/gone')).status).toBe(204);
  expect((await request(app).get(`/v1/jobs/${job}`)).body).toMatchObject({ state: 'failed', error: { code: 'MODEL_DELETED' } });
  expect((await request(app).get('/v1/models/gone')).status).toBe(404);
}, 60_000);

it('deleting a model whose schedule fires during the delete leaves it deleted: the run it fired fails with MODEL_DELETED and saves nothing', async () => {
  const { app, scheduler, queue } = running.service;
  const rows = Array.from({ length: 300 }, (_, i) => ({ a: (i * 7) % 31, b: (i * 13) % 17 }));
  expect((await request(app).put('/v1/datasets/s').send({ records: rows })).status).toBe(200);
  const first = (await request(app).post('/v1/models/s1/train').send({ dataset: 's', config: { epochs: 2 } })).body.jobId as string;
  await eventually(async () => ((await request(app).get(`/v1/jobs/${first}`)).body.state === 'completed' ? true : undefined), 30_000, 'the first training');
  expect((await request(app).put('/v1/models/s1/schedule').send({ cron: '0 3 * * *', dataset: 's', config: { epochs: 2 } })).status).toBe(200);
  // The cron fires while the delete takes the schedule away: its run is enqueued then, as a firing is.
  const unschedule = scheduler.delete.bind(scheduler);
  let fired: string | undefined;
  scheduler.delete = async (model: string) => {
    fired = (await queue.enqueue({ kind: 'train', model, dataset: 's', config: { epochs: 2 }, trigger: 'schedule' })).id;
    return unschedule(model);
  };
  try {
    expect((await request(app).delete('/v1/models/s1')).status).toBe(204);
  } finally {
    scheduler.delete = unschedule;
  }
  const run = await eventually(async () => {
    const j = (await request(app).get(`/v1/jobs/${fired as string}`)).body;
    return j.state === 'completed' || j.state === 'failed' ? j : undefined;
  }, 30_000, 'the fired run to end');
  expect(run).toMatchObject({ state: 'failed', error: { code: 'MODEL_DELETED' } });
  expect((await request(app).get('/v1/models/s1')).status).toBe(404);
  expect((await request(app).get('/v1/models/s1/schedule')).status).toBe(404);
});

it('a cancel that reaches a worker\'s run just after it saved its version answers 409 JOB_FINISHED naming the version, not 202 "running"', async () => {
  const { app, queue } = running.service;
  const rows = Array.from({ length: 300 }, (_, i) => ({ a: (i * 7) % 31, b: (i * 13) % 17 }));
  expect((await request(app).put('/v1/datasets/late').send({ records: rows })).status).toBe(200);
  const id = (await request(app).post('/v1/models/late/train').send({ dataset: 'late', config: { epochs: 2 } })).body.jobId as string;
  const done = await eventually(async () => {
    const j = (await request(app).get(`/v1/jobs/${id}`)).body;
    return j.state === 'completed' ? j : undefined;
  }, 30_000, 'the training');
  // The distributed queue's view in that window: the run saved its version (atomically, before the
  // cancel's mark) and has not yet reported completion, so the job still reads as running; or it
  // lost its lock after saving, and the queue has it queued again (the next run finishes that version).
  const [get, cancel] = [queue.get.bind(queue), queue.cancel.bind(queue)];
  for (const state of ['running', 'queued'] as const) {
    queue.get = async (jobId) => {
      const j = await get(jobId);
      return j && { ...j, state };
    };
    queue.cancel = async (jobId) => queue.get(jobId);
    try {
      const answer = await request(app).delete(`/v1/jobs/${id}`);
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ code: 'JOB_FINISHED', detail: expect.stringContaining(`completed while it was being cancelled: its version ${done.result.version as string} is saved`) });
    } finally {
      Object.assign(queue, { get, cancel });
    }
  }
});
