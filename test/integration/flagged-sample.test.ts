import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { ScoringThreads } from '../../src/serving';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { initBackend, toArtifact, train } from '../../src/nce';
import { normalRecords, suffix } from '../helpers/data';

/**
 * The console's sample of flagged records is explained on the explaining thread, after the answer:
 * one sample at a time, so that batches scored meanwhile do not queue explanations there ahead of
 * those clients ask for.
 */
let dir: string;
let service: Service;
const name = `sample-${suffix()}`;
const FEATURES = 200;

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-sample-'));
  service = await composeEmbedded(loadSettings({ MODELS_DIR: dir, DATASETS_DIR: join(dir, 'data'), SCORING_THREADS: '1' }), pino({ level: 'silent' }), backend);
  await service.store.save(name, toArtifact(await train(normalRecords(400, FEATURES, 7), { epochs: 1 }), { datasetFingerprint: 'test', datasetRows: 400, backend }));
});

afterAll(async () => {
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

it('batches of flagged records scored one after another send at most a sample or two to the explaining thread, not one each', async () => {
  const sent = jest.spyOn(ScoringThreads.prototype, 'score');
  try {
    for (let i = 0; i < 30; i++) {
      // Far out (6 standard deviations): every record flagged.
      const res = await request(service.app).post(`/v1/models/${name}/score`).send({ records: normalRecords(4, FEATURES, 100 + i, 6) });
      expect(res.body.results.every((r: { ood: boolean }) => r.ood)).toBe(true);
    }
    const explained = sent.mock.calls.filter((call) => call[2] !== undefined).length;
    expect(explained).toBeGreaterThanOrEqual(1);
    expect(explained).toBeLessThanOrEqual(2);
  } finally {
    sent.mockRestore();
  }
});
