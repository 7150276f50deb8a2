import request from 'supertest';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/** MAX_QUEUED_JOBS bounds the training jobs a client can leave waiting. */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded({ MAX_QUEUED_JOBS: '1' });
});

afterAll(async () => {
  await running.close();
});

it('refuses a train request once MAX_QUEUED_JOBS jobs wait: 503 QUEUE_FULL with a Retry-After, and nothing enqueued; a model scored before its training ends is told which job to wait for', async () => {
  const { app } = running.service;
  const rows = Array.from({ length: 200 }, (_, i) => ({ a: (i * 7) % 31, b: (i * 13) % 17 }));
  expect((await request(app).put('/v1/datasets/q').send({ records: rows })).status).toBe(200);
  // One job runs, one waits; the next is refused (the first may still be waiting when the second
  // arrives: then the second is the one refused).
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await request(app).post(`/v1/models/q${i}/train`).send({ dataset: 'q', config: { epochs: 200 } }));
  const refused = answers.filter((a) => a.status !== 202);
  expect(refused.length).toBeGreaterThanOrEqual(1);
  for (const a of refused) {
    expect(a.status).toBe(503);
    expect(a.type).toBe('application/problem+json');
    expect(a.body).toMatchObject({ code: 'QUEUE_FULL', detail: expect.stringContaining('MAX_QUEUED_JOBS is 1') });
    expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
  }
  const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.jobId as string);
  // Scored before its first training ends: the 404 names the job to wait for; a model nobody trains does not.
  const i = answers.findIndex((a) => a.status === 202);
  const early = await request(app).post(`/v1/models/q${i}/score`).send({ records: [{ a: 1, b: 2 }] });
  expect(early.status).toBe(404);
  expect(early.body).toMatchObject({ code: 'MODEL_NOT_FOUND', detail: expect.stringMatching(new RegExp(`^model "q${i}" does not exist or has no version yet: its training, job ${answers[i]!.body.jobId}, is (running|queued); score it once GET /v1/jobs/`)) });
  expect((await request(app).post('/v1/models/nobody/score').send({ records: [{ a: 1, b: 2 }] })).body.detail).toBe('model "nobody" does not exist or has no version');
  // Deleted meanwhile: its job will save nothing (MODEL_DELETED), so it is not named (once the 2 s the hint is kept have passed).
  expect((await request(app).delete(`/v1/models/q${i}`)).status).toBe(204);
  await new Promise((r) => setTimeout(r, 2100));
  expect((await request(app).post(`/v1/models/q${i}/score`).send({ records: [{ a: 1, b: 2 }] })).body.detail).toBe(`model "q${i}" does not exist or has no version`);
  const jobs = (await request(app).get('/v1/jobs')).body.jobs as { id: string }[];
  expect(jobs.map((j) => j.id).sort()).toEqual(accepted.sort());
});
