import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { type Artifact, toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, jobFinished, startEmbedded } from '../helpers/service';

/**
 * Registry operations of one model racing each other through the API, in embedded mode on the real
 * filesystem: every answer is a documented code (never a 500), and the directory afterwards
 * matches what the answers say.
 */
let running: EmbeddedService;
let artifact: Artifact;
const ROUNDS = 12;

beforeAll(async () => {
  running = await startEmbedded();
  artifact = toArtifact(await train(normalRecords(120, 2, 1), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 120, backend: running.backend });
});

afterAll(async () => {
  await running.close();
});

describe('registry races', () => {
  it('a DELETE of a model whose only job is still queued: the job fails MODEL_DELETED at its turn without training, and a second DELETE is a 404', async () => {
    const { app } = running.service;
    expect((await request(app).put('/v1/datasets/queued-d').send({ records: normalRecords(300, 3, 4) })).status).toBe(200);
    // The first job holds the one training slot while the second waits behind it.
    const first = await request(app).post('/v1/models/queued-a/train').send({ dataset: 'queued-d', config: { epochs: 30, patience: 30, kernelPartner: false } });
    const second = await request(app).post('/v1/models/queued-b/train').send({ dataset: 'queued-d', config: { epochs: 30, patience: 30, kernelPartner: false } });
    expect((await request(app).get(`/v1/jobs/${second.body.jobId}`)).body.state).toBe('queued');
    expect((await request(app).delete('/v1/models/queued-b')).status).toBe(204);
    // Nothing of the model is left that a delete could remove: the queued job is doomed already.
    expect((await request(app).delete('/v1/models/queued-b')).body).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
    const failed = await jobFinished<{ state: string; progress: unknown[]; error: { code: string } }>(app, second.body.jobId);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'MODEL_DELETED' } });
    expect(failed.progress).toEqual([]);
    expect((await jobFinished<{ state: string }>(app, first.body.jobId)).state).toBe('completed');
  });

  it('two concurrent DELETEs of one model: one answers 204 and the other 404, never 500', async () => {
    const { app, store } = running.service;
    for (let round = 0; round < ROUNDS; round++) {
      const name = `twice-${round}`;
      await store.save(name, artifact);
      const answers = await Promise.all([request(app).delete(`/v1/models/${name}`), request(app).delete(`/v1/models/${name}`)]);
      expect(answers.map((a) => a.status).sort()).toEqual([204, 404]);
      expect(answers.find((a) => a.status === 404)?.body).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    }
    // Nothing of those models is left, not even a renamed-away folder.
    expect((await readdir(join(running.dir, 'models'))).filter((f) => f.includes('twice-'))).toEqual([]);
  });

  it('a promote racing a DELETE answers 200 (before it) or 404 (after it), never 500 or VERSION_DAMAGED; the model is gone either way', async () => {
    const { app, store } = running.service;
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race-${round}`;
      const older = await store.save(name, artifact);
      await store.save(name, artifact);
      const [promote, del] = await Promise.all([
        request(app).post(`/v1/models/${name}/versions/${older}/promote`),
        request(app).delete(`/v1/models/${name}`),
      ]);
      expect([200, 404]).toContain(promote.status);
      // After the delete: the model is gone (MODEL_NOT_FOUND), or its version went while promoted.
      if (promote.status === 404) expect(['MODEL_NOT_FOUND', 'VERSION_NOT_FOUND']).toContain(promote.body.code);
      expect(del.status).toBe(204);
      expect(await store.currentVersion(name)).toBeNull();
      expect(await store.versions(name)).toEqual([]);
    }
  });

  it('once DELETE answers 204, scoring answers 404; once a promote answers, scoring names the promoted version', async () => {
    const { app, store } = running.service;
    const body = { records: [{ f0: 0, f1: 0 }] };
    for (let round = 0; round < 5; round++) {
      const name = `swap-${round}`;
      const older = await store.save(name, artifact);
      const newer = await store.save(name, artifact);
      expect((await request(app).post(`/v1/models/${name}/score`).send(body)).body.version).toBe(newer);
      expect((await request(app).post(`/v1/models/${name}/versions/${older}/promote`)).status).toBe(200);
      expect((await request(app).post(`/v1/models/${name}/score`).send(body)).body.version).toBe(older);
      expect((await request(app).delete(`/v1/models/${name}`)).status).toBe(204);
      expect((await request(app).post(`/v1/models/${name}/score`).send(body)).status).toBe(404);
    }
  });
});
