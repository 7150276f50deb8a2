import request from 'supertest';
import { toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/** A model unloaded to make room (MODEL_CACHE_MAX) is still served: its counters and its drift window go on. */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded({ MODEL_CACHE_MAX: '1', DRIFT_MIN_RECORDS: '20' });
});

afterAll(async () => {
  await running.close();
});

it('counts every record of models scored in turn beyond MODEL_CACHE_MAX and measures their drift, and drops a model\'s series when it is deleted', async () => {
  const { app, store } = running.service;
  const artifact = toArtifact(await train(normalRecords(200, 2, 1), { epochs: 2, kernelPartner: false }), { datasetFingerprint: 'x', datasetRows: 200, backend: running.backend });
  for (const name of ['ev-a', 'ev-b']) await store.save(name, artifact);
  // Known to the registry, their counters start at 0 before anything is scored (read every 10 s,
  // and at start-up: here the service started before they existed).
  running.service.metrics.inRegistry(await store.list());
  const before = (await request(app).get('/metrics')).text;
  for (const name of ['ev-a', 'ev-b']) expect(before).toContain(`nce_ood_scored_records_total{model="${name}"} 0`);
  const records = normalRecords(10, 2, 7);
  // Each request unloads the other model (one fits).
  for (let round = 0; round < 3; round++) {
    for (const name of ['ev-a', 'ev-b']) expect((await request(app).post(`/v1/models/${name}/score`).send({ records })).status).toBe(200);
  }
  const metrics = (await request(app).get('/metrics')).text;
  const value = (line: string): number => Number(metrics.split('\n').find((l) => l.startsWith(line))?.split(' ')[1]);
  expect(value('nce_ood_scored_records_total{model="ev-a"}')).toBe(30);
  expect(value('nce_ood_scored_records_total{model="ev-b"}')).toBe(30);
  // Drift windows outlive an unload (within their own memory bound): each holds every record its
  // model scored, loaded now or not, so drift is measured for models scored in turn beyond the cache.
  expect(value('nce_ood_drift_window_records{model="ev-b"}')).toBe(30);
  expect(value('nce_ood_drift_window_records{model="ev-a"}')).toBe(30);
  expect(value('nce_ood_drift_psi{model="ev-a"}')).toBeGreaterThanOrEqual(0);
  // The console's counts stay too (each model scored 30 records by its version here).
  const consoleModels = (await request(app).get('/v1/console')).body.models as { name: string; scored: number }[];
  expect(consoleModels.filter((m) => m.name.startsWith('ev-')).map((m) => [m.name, m.scored])).toEqual([
    ['ev-a', 30],
    ['ev-b', 30],
  ]);
  // Deleted: its series go, loaded or not (the delete's announcement is checked in the background).
  expect((await request(app).delete('/v1/models/ev-a')).status).toBe(204);
  let after = '';
  for (let i = 0; i < 40; i++) {
    after = (await request(app).get('/metrics')).text;
    if (!after.includes('model="ev-a"')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(after).not.toContain('model="ev-a"');
  expect(after).toContain('nce_ood_scored_records_total{model="ev-b"} 30');
});

it('follows a promote of a model unloaded to make room: its version, threshold and drift window switch at once, not at its next request', async () => {
  const { app, store } = running.service;
  const records = normalRecords(200, 2, 3);
  const at = async (targetFpr: number) => toArtifact(await train(records, { epochs: 2, kernelPartner: false, targetFpr }), { datasetFingerprint: `fpr-${targetFpr}`, datasetRows: 200, backend: running.backend });
  const first = await store.save('ev-c', await at(0.05));
  const second = await store.save('ev-c', await at(0.1), { candidate: 'kept for the test' });
  const scored = normalRecords(30, 2, 8);
  expect((await request(app).post('/v1/models/ev-c/score').send({ records: scored })).status).toBe(200);
  // Scoring another model unloads it (one fits); its window stays.
  expect((await request(app).post('/v1/models/ev-b/score').send({ records: scored })).status).toBe(200);
  const value = (text: string, line: string): number | undefined => {
    const found = text.split('\n').find((l) => l.startsWith(line));
    return found === undefined ? undefined : Number(found.split(' ')[1]);
  };
  const metrics = async (): Promise<string> => (await request(app).get('/metrics')).text;
  let text = await metrics();
  expect(value(text, `nce_ood_model_info{model="ev-c",version="${first}"`)).toBe(1);
  expect(value(text, 'nce_ood_drift_window_records{model="ev-c"}')).toBe(30);
  expect(value(text, 'nce_ood_model_expected_flagged_ratio{model="ev-c"}')).toBeCloseTo(0.05, 6);
  expect((await request(app).post(`/v1/models/ev-c/versions/${second}/promote`)).status).toBe(200);
  for (let i = 0; i < 60 && value(text, `nce_ood_model_info{model="ev-c",version="${second}"`) === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = await metrics();
  }
  expect(value(text, `nce_ood_model_info{model="ev-c",version="${second}"`)).toBe(1);
  expect(value(text, `nce_ood_model_info{model="ev-c",version="${first}"`)).toBeUndefined();
  expect(value(text, 'nce_ood_model_expected_flagged_ratio{model="ev-c"}')).toBeCloseTo(0.1, 6);
  // The new version's window starts empty; the counters of the model go on.
  expect(value(text, 'nce_ood_drift_window_records{model="ev-c"}') ?? 0).toBe(0);
  expect(value(text, 'nce_ood_scored_records_total{model="ev-c"}')).toBe(30);
});
