import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { type DataRecord, fingerprintRecords, initBackend, toArtifact, train } from '../../src/nce';
import { parseCsv } from '../../src/store';

/** Drift on real data: thyroid's normal test records, as they are and with two features shifted. */
const DATA = resolve(__dirname, '../../..', 'shared', 'datasets', 'thyroid.csv');
let dir: string;
let service: Service;
let normal: DataRecord[];
let features: string[];
let backend: string;

beforeAll(async () => {
  backend = await initBackend();
  const table = parseCsv(await readFile(DATA, 'utf8'));
  features = table.columns.filter((c) => c !== 'label' && c !== 'split');
  const pick = (r: DataRecord): DataRecord => Object.fromEntries(features.map((c) => [c, r[c] ?? null]));
  const trainRows = table.records.filter((r) => r.split === 'train').map(pick);
  normal = table.records.filter((r) => r.split === 'test' && r.label === 0).map(pick);
  dir = await mkdtemp(join(tmpdir(), 'nce-drift-'));
  const settings = loadSettings({
    MODELS_DIR: dir,
    DATASETS_DIR: join(dir, 'data'),
    MAX_BATCH_RECORDS: '2000',
    DRIFT_WINDOW_RECORDS: '2000',
    DRIFT_RETRAIN: 'thyroid:thyroid-ref',
    DRIFT_RETRAIN_AFTER_SECONDS: '60',
  });
  service = await composeEmbedded(settings, pino({ level: 'silent' }), backend);
  // The test drives the drift checks itself, with its own clock.
  service.drift.stop();
  await service.datasets.put('thyroid-ref', features, trainRows);
  const result = await train(trainRows, { epochs: 15, seed: 3 });
  await service.store.save('thyroid', toArtifact(result, { datasetFingerprint: fingerprintRecords(trainRows, features), datasetRows: trainRows.length, backend }));
});

afterAll(async () => {
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

/** The value of one sample of the /metrics text, or undefined. */
async function sample(name: string, labels: string): Promise<number | undefined> {
  const text = (await request(service.app).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function featureDrift(): Promise<{ feature: string; psi: number }[]> {
  const text = (await request(service.app).get('/metrics')).text;
  return text
    .split('\n')
    .filter((l) => l.startsWith('nce_ood_feature_drift_psi{'))
    .map((l) => ({ feature: /feature="([^"]+)"/.exec(l)?.[1] as string, psi: Number(l.split(' ').pop()) }))
    .sort((a, b) => b.psi - a.psi);
}

describe('drift metrics on real data', () => {
  it('normal traffic keeps PSI under 0.1; two shifted features push it over 0.25, lead the feature drift, and raise the flagged count', async () => {
    const res = await request(service.app).post('/v1/models/thyroid/score').send({ records: normal });
    expect(res.status).toBe(200);
    const calm = await sample('nce_ood_drift_psi', 'model="thyroid"');
    expect(await sample('nce_ood_drift_window_records', 'model="thyroid"')).toBe(normal.length);
    expect(calm).toBeLessThan(0.1);
    expect(await sample('nce_ood_drift_ks', 'model="thyroid"')).toBeLessThan(0.1);
    const flaggedCalm = (await sample('nce_ood_flagged_records_total', 'model="thyroid"')) as number;
    expect(flaggedCalm).toBeLessThan(0.03 * normal.length);

    // The same records, the first two features moved by five of their standard deviations.
    const shifted = [features[0], features[1]] as string[];
    const sd = (f: string): number => {
      const v = normal.map((r) => r[f] as number);
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
    };
    const moved = normal.map((r) => ({ ...r, ...Object.fromEntries(shifted.map((f) => [f, (r[f] as number) + 5 * sd(f)])) }));
    expect((await request(service.app).post('/v1/models/thyroid/score').send({ records: moved })).status).toBe(200);
    // The window (2000 records) now holds mostly shifted traffic.
    expect(await sample('nce_ood_drift_psi', 'model="thyroid"')).toBeGreaterThan(0.25);
    const top = await featureDrift();
    expect(top.slice(0, 2).map((t) => t.feature).sort()).toEqual([...shifted].sort());
    expect(top[1]?.psi).toBeGreaterThan(0.25);
    const flagged = (await sample('nce_ood_flagged_records_total', 'model="thyroid"')) as number;
    expect(flagged - flaggedCalm).toBeGreaterThan(5 * Math.max(1, flaggedCalm));
  });

  it('drift that stays high for DRIFT_RETRAIN_AFTER_SECONDS enqueues one retrain, counted, which yields a version through the gate', async () => {
    // New reference records arrived since the model was trained (a retrain on the very same
    // records and config would save nothing: its job says unchanged).
    await service.datasets.append('thyroid-ref', (await service.datasets.records('thyroid-ref')).records.slice(0, 200));
    // Exported from 0 before any retrain, so the first one shows in increase().
    expect(await sample('nce_ood_drift_retrains_total', 'model="thyroid"')).toBe(0);
    const t0 = Date.now();
    // The window still holds the shifted traffic of the test above.
    expect(await service.drift.check(t0)).toEqual([]);
    expect(await service.drift.check(t0 + 30_000)).toEqual([]);
    expect(await service.drift.check(t0 + 61_000)).toEqual(['thyroid']);
    // Still pending: no second retrain, however long drift stays high.
    expect(await service.drift.check(t0 + 200_000)).toEqual([]);
    expect(await sample('nce_ood_drift_retrains_total', 'model="thyroid"')).toBe(1);
    const jobs = await service.queue.counts();
    expect(jobs.queued + jobs.running).toBe(1);
    for (let i = 0; i < 600 && (await service.store.versions('thyroid')).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await service.store.versions('thyroid')).toHaveLength(2);
  });

  it('a promote starts a fresh window at once: the gauges stop showing the previous version\'s drift before any new record', async () => {
    const versions = await service.store.versions('thyroid');
    const current = await service.store.currentVersion('thyroid');
    const other = versions.find((v) => v !== current) as string;
    expect((await request(service.app).post('/v1/models/thyroid/score').send({ records: normal })).status).toBe(200);
    expect(await sample('nce_ood_drift_window_records', 'model="thyroid"')).toBe(normal.length);
    expect(await sample('nce_ood_drift_psi', 'model="thyroid"')).toBeDefined();
    expect((await request(service.app).post(`/v1/models/thyroid/versions/${other}/promote`)).status).toBe(200);
    for (let i = 0; i < 100 && (await sample('nce_ood_model_info', `model="thyroid",version="${other}",backend="${backend}"`)) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await sample('nce_ood_model_info', `model="thyroid",version="${other}",backend="${backend}"`)).toBe(1);
    expect(await sample('nce_ood_drift_window_records', 'model="thyroid"')).toBe(0);
    expect(await sample('nce_ood_drift_psi', 'model="thyroid"')).toBeUndefined();
  });
});
