import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import type { Service } from '../../src/compose';
import { AppError } from '../../src/errors';
import { toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/**
 * Embedded mode when the disk fails: a full disk or a read-only models directory. The error is
 * reported, and nothing stored before is damaged. Faults are injected into node:fs/promises
 * (the tests may run as root, for whom a read-only directory is still writable).
 */
let running: EmbeddedService;
let dir: string;
let service: Service;
let v1: string;

/** The failure writes get now: an errno code for the paths `when` picks, or none. */
let fault: { code: string; when: (path: string) => boolean; partial?: boolean } | null = null;

jest.mock('node:fs/promises', () => {
  const actual = jest.requireActual<typeof import('node:fs/promises')>('node:fs/promises');
  return {
    ...actual,
    // `partial`: the file is made, empty, before the write fails, as on a full disk.
    writeFile: async (path: Parameters<typeof actual.writeFile>[0], ...rest: unknown[]) => {
      if (!fault || !fault.when(String(path))) return (actual.writeFile as (...a: unknown[]) => Promise<void>)(path, ...rest);
      if (fault.partial) await actual.writeFile(path, '');
      throw Object.assign(new Error(`${fault.code}: simulated`), { code: fault.code });
    },
    // A disk that fills mid-append: part of the text lands, then the write fails.
    appendFile: async (path: Parameters<typeof actual.appendFile>[0], data: string, ...rest: unknown[]) => {
      if (!fault || !fault.when(String(path))) return (actual.appendFile as (...a: unknown[]) => Promise<void>)(path, data, ...rest);
      await actual.appendFile(path, data.slice(0, Math.floor(data.length / 2)));
      throw Object.assign(new Error(`${fault.code}: simulated`), { code: fault.code });
    },
  };
});

beforeAll(async () => {
  running = await startEmbedded();
  ({ service, dir } = running);
  v1 = await service.store.save('m', toArtifact(await train(normalRecords(200, 2, 1), { epochs: 3 }), { datasetFingerprint: 'x', datasetRows: 200, backend: running.backend }));
  await service.datasets.put('d', ['f0', 'f1'], normalRecords(200, 2, 2));
});

afterAll(async () => {
  fault = null;
  await running.close();
});

afterEach(() => {
  fault = null;
});

function failWrites(code: string, when: (path: string) => boolean): void {
  fault = { code, when };
}

async function finished(id: string): Promise<{ state: string; error?: { code: string; message: string } }> {
  for (let i = 0; i < 600; i++) {
    const job = (await request(service.app).get(`/v1/jobs/${id}`)).body;
    if (job.state === 'completed' || job.state === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('job did not finish');
}

describe('storage faults in embedded mode', () => {
  it.each([
    ['ENOSPC', 507, 'STORAGE_FULL'],
    ['EROFS', 503, 'STORE_UNAVAILABLE'],
  ])('a train request whose job record cannot be written (%s) is refused with %i %s, not accepted and lost', async (errno, status, code) => {
    failWrites(errno, (p) => p.includes(join(dir, 'models', '.jobs')));
    const refused = await request(service.app).post('/v1/models/journal/train').send({ dataset: 'd', config: { epochs: 1 } });
    expect(refused.status).toBe(status);
    expect(refused.body).toMatchObject({ code });
    // A 503 says when to try again, as QUEUE_FULL's does.
    expect(refused.headers['retry-after']).toBe(status === 503 ? '5' : undefined);
    expect((await service.queue.counts()).queued).toBe(0);
    fault = null;
    const accepted = await request(service.app).post('/v1/models/journal/train').send({ dataset: 'd', config: { epochs: 1 } });
    expect(accepted.status).toBe(202);
    expect((await finished(accepted.body.jobId)).state).toBe('completed');
  });

  it.each([
    ['ENOSPC', 'full'],
    ['EROFS', 'read-only'],
  ])('/readyz on a store failing writes with %s: degraded, store "%s"; ready again once writes succeed', async (errno, store) => {
    failWrites(errno, (p) => p.includes(join(dir, 'models')));
    expect((await request(service.app).get('/readyz')).body).toMatchObject({ status: 'degraded', store });
    fault = null;
    expect((await request(service.app).get('/readyz')).body).toMatchObject({ status: 'ready', store: 'ok' });
    expect((await fsp.readdir(join(dir, 'models'))).filter((f) => f.startsWith('.probe'))).toEqual([]);
  });

  it('DELETE of a model on a full disk answers 204 and frees its space: the deletion is remembered once that space is free', async () => {
    await service.store.save('full', toArtifact(await train(normalRecords(200, 2, 3), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 200, backend: running.backend }));
    // The disk is full until something is removed: the first write of the deletion's record fails.
    let refused = 0;
    failWrites('ENOSPC', (p) => p.includes(join(dir, 'models', '.deletions')) && refused++ === 0);
    const deleted = await request(service.app).delete('/v1/models/full');
    expect(deleted.status).toBe(204);
    expect(refused).toBeGreaterThan(0);
    expect(await service.store.versions('full')).toEqual([]);
    expect((await request(service.app).get('/v1/models/full')).status).toBe(404);
    expect(await service.store.deletedAt('full')).not.toBeNull();
  });

  it('DELETE of a model whose schedule a full store will not take away: the model goes first, freeing space, then the schedule; still full, the answer says the model is deleted and the schedule left', async () => {
    const full = new AppError('STORAGE_FULL', 'the store (Redis) is full (maxmemory): nothing was changed');
    for (const refusals of [1, 2]) {
      const name = `sched${refusals}`;
      await service.store.save(name, toArtifact(await train(normalRecords(200, 2, 4), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 200, backend: running.backend }));
      await service.scheduler.put(name, { cron: '0 3 * * *', dataset: 'd' });
      const unschedule = jest.spyOn(service.scheduler, 'delete');
      for (let i = 0; i < refusals; i++) unschedule.mockRejectedValueOnce(full);
      try {
        const answer = await request(service.app).delete(`/v1/models/${name}`);
        if (refusals === 1) {
          expect(answer.status).toBe(204);
          expect(await service.scheduler.get(name)).toBeNull();
        } else {
          expect(answer.body).toMatchObject({ status: 507, code: 'STORAGE_FULL', detail: expect.stringContaining(`model "${name}" was deleted, but the store is still too full to take its schedule away`) });
          expect(await service.scheduler.get(name)).not.toBeNull();
        }
      } finally {
        unschedule.mockRestore();
      }
      expect(await service.store.versions(name)).toEqual([]);
      expect((await request(service.app).get(`/v1/models/${name}`)).status).toBe(404);
      await service.scheduler.delete(name);
    }
  });

  it('folders moved away under the service (an unmounted volume): /readyz says the store is unreachable and an upload 503, with no empty folder made in their place; moved back, ready again', async () => {
    const [models, data] = [join(dir, 'models'), join(dir, 'data')];
    const score = () => request(service.app).post('/v1/models/m/score').send({ records: [{ f0: 0, f1: 0 }] });
    expect((await score()).status).toBe(200);
    expect((await request(service.app).put('/v1/models/m/schedule').send({ cron: '0 3 1 1 *', dataset: 'd' })).status).toBe(200);
    await fsp.rename(models, `${models}-away`);
    try {
      expect((await request(service.app).get('/readyz')).body).toMatchObject({ status: 'degraded', store: 'unreachable', modelsLoaded: expect.arrayContaining(['m']) });
      // The model loaded goes on scoring past the cache's next look at the registry, as through any store outage: not unloaded as deleted.
      await new Promise((r) => setTimeout(r, 1200));
      const scored = await score();
      expect([scored.status, scored.body.version]).toEqual([200, v1]);
      // The job journal and the schedules live in the models folder too.
      const train = await request(service.app).post('/v1/models/moved/train').send({ dataset: 'd', config: { epochs: 1 } });
      expect([train.status, train.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      const schedule = await request(service.app).put('/v1/models/moved/schedule').send({ cron: '0 3 * * *', dataset: 'd' });
      expect([schedule.status, schedule.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      // Nor are deletes: a schedule's (its file would bring it back at the next start) and a dataset's (it is not "not found").
      const unscheduled = await request(service.app).delete('/v1/models/m/schedule');
      expect([unscheduled.status, unscheduled.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      expect((await request(service.app).get('/v1/models/m/schedule')).status).toBe(200);
      await expect(fsp.access(models)).rejects.toMatchObject({ code: 'ENOENT' });
      await fsp.rename(data, `${data}-away`);
      const dropped = await request(service.app).delete('/v1/datasets/d');
      expect([dropped.status, dropped.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      const put = await request(service.app).put('/v1/datasets/moved').send({ records: normalRecords(20, 2, 5) });
      expect(put.status).toBe(503);
      expect(put.body).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      // Reads and appends say the store is away, not that the datasets are gone.
      for (const res of [await request(service.app).get('/v1/datasets'), await request(service.app).get('/v1/datasets/d'), await request(service.app).post('/v1/datasets/d/records').send({ records: normalRecords(2, 2, 6) })]) {
        expect([res.status, res.body.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      }
      await expect(fsp.access(models)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(fsp.access(data)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await fsp.rename(`${models}-away`, models);
      await fsp.rename(`${data}-away`, data).catch(() => undefined);
    }
    expect((await request(service.app).get('/readyz')).body).toMatchObject({ status: 'ready', store: 'ok' });
    expect((await request(service.app).put('/v1/datasets/moved').send({ records: normalRecords(20, 2, 5) })).status).toBe(200);
    expect((await request(service.app).get('/v1/datasets/d')).status).toBe(200);
    expect((await request(service.app).delete('/v1/models/m/schedule')).status).toBe(204);
  });

  it('/readyz with the store unreachable and no model loaded: 503 not ready, saying when to look again', async () => {
    const list = jest.spyOn(service.store, 'list').mockRejectedValue(Object.assign(new Error('EIO: simulated'), { code: 'EIO' }));
    const loaded = jest.spyOn(service.models, 'loaded').mockReturnValue([]);
    try {
      const ready = await request(service.app).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not ready', store: 'unreachable', modelsLoaded: [] });
      expect(ready.headers['retry-after']).toBe('5');
    } finally {
      list.mockRestore();
      loaded.mockRestore();
    }
    const ready = await request(service.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.headers['retry-after']).toBeUndefined();
  });

  it.each([
    ['EROFS', 'STORE_UNAVAILABLE'],
    ['ENOENT', 'STORE_UNAVAILABLE'],
  ])('a store that fails a save with %s: the job fails with %s, not the raw errno', async (errno, code) => {
    failWrites(errno, (p) => p.includes(join(dir, 'models')) && p.includes('weights.bin'));
    const started = await request(service.app).post('/v1/models/m/train').send({ dataset: 'd', config: { epochs: 2 } });
    const job = await finished(started.body.jobId);
    expect(job).toMatchObject({ state: 'failed', error: { code } });
    expect(await service.store.versions('m')).toEqual([v1]);
  });

  it('a full disk while a trained version is written: the job fails saying so, no partial version appears, the current one keeps serving', async () => {
    failWrites('ENOSPC', (p) => p.includes(join(dir, 'models')) && p.includes('weights.bin'));
    const started = await request(service.app).post('/v1/models/m/train').send({ dataset: 'd', config: { epochs: 2 } });
    const job = await finished(started.body.jobId);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL' } });
    expect(await service.store.versions('m')).toEqual([v1]);
    expect(await service.store.currentVersion('m')).toBe(v1);
    expect((await fsp.readdir(join(dir, 'models', 'm'))).filter((f) => f.startsWith('.tmp'))).toEqual([]);
    fault = null;
    const scored = await request(service.app).post('/v1/models/m/score').send({ records: [{ f0: 0, f1: 0 }] });
    expect(scored.body).toMatchObject({ version: v1 });
  });

  it('a full disk when the version just written is made current: the job fails saying nothing was changed, and that version is not left behind to be promoted (an outside probe: it stayed, listed and promotable)', async () => {
    const before = await service.store.versions('m');
    const current = await service.store.currentVersion('m');
    fault = { code: 'ENOSPC', when: (p) => p.includes(`${join(dir, 'models', 'm')}/.CURRENT-`), partial: true };
    const started = await request(service.app).post('/v1/models/m/train').send({ dataset: 'd', config: { epochs: 2, seed: 11 } });
    const job = await finished(started.body.jobId);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL', message: 'the store could not write (ENOSPC): nothing was changed' } });
    fault = null;
    expect(await service.store.versions('m')).toEqual(before);
    expect(await service.store.currentVersion('m')).toBe(current);
    expect((await fsp.readdir(join(dir, 'models', 'm'))).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a disk full under the job journal too: the job fails saying so in words, and its record is written once the disk has room, so a restart does not run it again', async () => {
    failWrites('ENOSPC', (p) => p.includes(join(dir, 'models')) && p.includes('weights.bin'));
    const started = await request(service.app).post('/v1/models/m/train').send({ dataset: 'd', config: { epochs: 2 } });
    expect(started.status).toBe(202);
    // Accepted (its record written), then the disk fills for the journal too.
    failWrites('ENOSPC', (p) => p.includes(join(dir, 'models')) && (p.includes('weights.bin') || p.includes('.jobs')));
    const job = await finished(started.body.jobId);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL', message: 'the store could not write (ENOSPC): nothing was changed' } });
    const record = join(dir, 'models', '.jobs', `${started.body.jobId}.json`);
    // What the disk holds while it is full: the job as queued or running, which a restart would run again.
    expect(JSON.parse(await fsp.readFile(record, 'utf8')).state).toMatch(/^(queued|running)$/);
    fault = null;
    for (let i = 0; i < 50 && (await fsp.readFile(record, 'utf8').then((t) => JSON.parse(t).state as string, () => null)) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(JSON.parse(await fsp.readFile(record, 'utf8'))).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL' } });
  });

  it('a full disk while a dataset is replaced: 507 STORAGE_FULL, the old dataset intact', async () => {
    const before = await service.datasets.records('d');
    failWrites('ENOSPC', (p) => p.includes(join(dir, 'data')));
    const put = await request(service.app).put('/v1/datasets/d').send({ records: [{ f0: 1, f1: 2 }] });
    expect(put.status).toBe(507);
    expect(put.body).toMatchObject({ code: 'STORAGE_FULL', detail: expect.stringContaining('ENOSPC') });
    fault = null;
    expect(await service.datasets.records('d')).toEqual(before);
    expect((await fsp.readdir(join(dir, 'data'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a disk that fills during an append: 507 STORAGE_FULL, nothing of it appended; the next append lands whole', async () => {
    const before = await service.datasets.records('d');
    failWrites('ENOSPC', (p) => p.endsWith('.rows'));
    const appended = await request(service.app).post('/v1/datasets/d/records').send({ records: [{ f0: 1, f1: 2 }, { f0: 3, f1: 4 }] });
    expect(appended.status).toBe(507);
    expect(appended.body).toMatchObject({ code: 'STORAGE_FULL' });
    fault = null;
    expect(await service.datasets.records('d')).toEqual(before);
    expect((await request(service.app).post('/v1/datasets/d/records').send({ records: [{ f0: 5, f1: 6 }] })).body.rows).toBe(before.info.rows + 1);
    expect((await service.datasets.records('d')).records).toEqual([...before.records, { f0: 5, f1: 6 }]);
  });

  it('a read-only models directory: promote answers 503 saying so, the current version unchanged', async () => {
    const v2 = await service.store.save('m', toArtifact(await train(normalRecords(200, 2, 3), { epochs: 2 }), { datasetFingerprint: 'y', datasetRows: 200, backend: 'wasm' }), { candidate: 'kept back' });
    failWrites('EROFS', (p) => p.includes(join(dir, 'models')));
    const promoted = await request(service.app).post(`/v1/models/m/versions/${v2}/promote`);
    expect(promoted.body).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE', detail: expect.stringContaining('EROFS') });
    fault = null;
    expect(await service.store.currentVersion('m')).toBe(v1);
    expect((await request(service.app).get('/healthz')).status).toBe(200);
  });

  it('a full disk during a promote: 507, the current version unchanged, and no pointer file left behind', async () => {
    const v3 = await service.store.save('m', toArtifact(await train(normalRecords(200, 2, 4), { epochs: 2 }), { datasetFingerprint: 'z', datasetRows: 200, backend: 'wasm' }), { candidate: 'kept back' });
    fault = { code: 'ENOSPC', when: (p) => p.includes(`${join(dir, 'models', 'm')}/.CURRENT-`), partial: true };
    const promoted = await request(service.app).post(`/v1/models/m/versions/${v3}/promote`);
    expect([promoted.status, promoted.body.code]).toEqual([507, 'STORAGE_FULL']);
    fault = null;
    expect(await service.store.currentVersion('m')).toBe(v1);
    expect((await fsp.readdir(join(dir, 'models', 'm'))).filter((f) => f.startsWith('.CURRENT'))).toEqual([]);
  });
});
