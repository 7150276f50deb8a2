import request from 'supertest';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, jobFinished, startEmbedded } from '../helpers/service';

/**
 * A model trained here has its record counters at 0 as soon as its job completes, not at the next
 * registry read (every 10 s): a scrape between the job and the first batch then sees 0, and
 * rate() and increase() count that first batch.
 */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

it('a model trained here gets its record counters at 0 when its job completes', async () => {
  const { app } = running.service;
  const started = Date.now();
  expect((await request(app).put('/v1/datasets/fresh').send({ records: normalRecords(150, 2, 5) })).status).toBe(200);
  const job = await jobFinished<{ state: string; result?: { promoted: boolean } }>(app, (await request(app).post('/v1/models/fresh/train').send({ dataset: 'fresh', config: { epochs: 1, kernelPartner: false } })).body.jobId);
  expect(job.result?.promoted).toBe(true);
  const metrics = (await request(app).get('/metrics')).text;
  // Within the registry read's period since start-up (the test proves nothing past it).
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(metrics).toContain('nce_ood_scored_records_total{model="fresh"} 0');
  expect(metrics).toContain('nce_ood_flagged_records_total{model="fresh"} 0');
});
