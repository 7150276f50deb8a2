import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type Artifact, fingerprintRecords, initBackend, NceError, toArtifact, train } from '../../src/nce';
import { TMP_ROWS_TTL_SECONDS } from '../../src/store/redis-dataset-store';
import { COMMAND_TIMEOUT_MS } from '../../src/store/redis-connection';
import { type DatasetInfo, type DatasetStore, DELETION_MEMORY_MS, describeVersions, FsDatasetStore, FsModelStore, type ModelEvent, type ModelStore, guardRedis, openRedis, RedisDatasetStore, RedisModelStore, redisKeys, redisNowMs, REMEMBERED_APPEND_KEYS, SavedByAnotherRun, sweepLeftovers, whenConnected } from '../../src/store';
import { describe as describeError } from '../../src/errors';
import { Queue, Worker } from 'bullmq';
import { BullMqScheduler, type JobPayload, type JobResult, QUEUE_PREFIX, runTrainJob, storeVersion } from '../../src/queue';
import { normalRecords, suffix } from '../helpers/data';
import { freePort, startRedis } from '../helpers/processes';
import { KERNEL_PARTNER_NOISES } from '../../src/nce/config';

/** One contract, two implementations: the embedded mode's files and the distributed mode's Redis. */
let dir: string;
let redisServer: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
let artifact: Artifact;
let trained: Awaited<ReturnType<typeof train>>;

beforeAll(async () => {
  const backend = await initBackend();
  trained = await train(normalRecords(120, 2, 1), { epochs: 2 });
  artifact = toArtifact(trained, { datasetFingerprint: 'x', datasetRows: 120, backend });
  dir = await mkdtemp(join(tmpdir(), 'nce-stores-'));
  redisServer = await startRedis();
  redis = await openRedis(redisServer.url, 'commands');
});

afterAll(async () => {
  await redis?.quit();
  await redisServer?.stop();
  await rm(dir, { recursive: true, force: true });
});

const kinds: [string, () => { models: ModelStore; datasets: DatasetStore }][] = [
  ['filesystem', () => ({ models: new FsModelStore(join(dir, 'models')), datasets: new FsDatasetStore(join(dir, 'data')) })],
  ['redis', () => ({ models: new RedisModelStore(redis), datasets: new RedisDatasetStore(redis) })],
];

describe.each(kinds)('%s stores', (kind, make) => {
  it('keep versions in order, a current one, candidates with their reason, promote and delete', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    expect(await models.currentVersion(name)).toBeNull();
    const v1 = await models.save(name, artifact);
    const v2 = await models.save(name, artifact, { candidate: 'validation AUC too low' });
    expect(await models.versions(name)).toEqual([v1, v2]);
    expect(await models.currentVersion(name)).toBe(v1);
    expect(await models.candidateReason(name, v2)).toBe('validation AUC too low');
    expect(await models.candidateReason(name, v1)).toBeNull();
    expect(await models.list()).toContain(name);
    const loaded = await models.load(name, v1);
    expect(loaded.manifest.manifestSha256).toBe(artifact.manifest.manifestSha256);
    // The main model's layers, then each kernel partner's (the default on this small data).
    const partnerLayers = (loaded.state.partners ?? []).reduce((s, p) => s + p.weights.length, 0);
    expect(loaded.state.partners).toHaveLength(KERNEL_PARTNER_NOISES.length);
    expect(loaded.state.weights.length + partnerLayers).toBe(artifact.manifest.weights.layers.length);
    await models.promote(name, v2);
    expect(await models.currentVersion(name)).toBe(v2);
    await expect(models.promote(name, '20990101T000000000Z-abcdef')).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    expect(await models.delete(name)).toBe(true);
    expect(await models.delete(name)).toBe(false);
    expect(await models.versions(name)).toEqual([]);
    expect(await models.list()).not.toContain(name);
  });

  it('let a job run again after a crash finish the version it saved, without training another', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const v1 = await models.save(name, artifact);
    const v2 = await models.save(name, artifact, { jobId: 'job-1' });
    // On files, what a kill between saving v2 and moving CURRENT leaves: v2 stored, v1 still
    // current. In Redis the save moved it in the same step: v1 current again is a rollback since.
    await models.promote(name, v1);
    const v3 = await models.save(name, artifact, { jobId: 'job-2', candidate: 'SCHEMA_CHANGED: x' });
    expect(await models.versionOfJob(name, 'job-1')).toBe(v2);
    expect(await models.versionOfJob(name, 'job-9')).toBeNull();
    const trainer = jest.fn(() => Promise.resolve(artifact));
    const payload = { kind: 'train' as const, model: name, dataset: 'never-read', config: {} };
    // With the version's warnings, as the run that saved it would have answered.
    const warnings = artifact.manifest.training.warnings ? { warnings: artifact.manifest.training.warnings } : {};
    await expect(runTrainJob(payload, { datasets, models, trainer }, 'job-1')).resolves.toEqual({ model: name, version: v2, promoted: true, ...warnings });
    await expect(runTrainJob(payload, { datasets, models, trainer }, 'job-2')).resolves.toEqual({ model: name, version: v3, promoted: false, reason: 'SCHEMA_CHANGED: x', ...warnings });
    expect(trainer).not.toHaveBeenCalled();
    expect(await models.versions(name)).toEqual([v1, v2, v3]);
    expect(await models.currentVersion(name)).toBe(models.savesCurrentAtOnce ? v1 : v2);
    // A job whose version is older than one promoted since leaves the newer one current.
    const v4 = await models.save(name, artifact);
    await expect(runTrainJob(payload, { datasets, models, trainer }, 'job-1')).resolves.toMatchObject({ version: v2 });
    expect(await models.currentVersion(name)).toBe(v4);
  });

  it('answer a job run again while its first run, stalled past its lock, saved the same training: the version is new, not "unchanged"', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const dataset = `d-${suffix()}`;
    await datasets.put(dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    await models.save(name, artifact);
    const same = toArtifact(trained, { datasetFingerprint: 'new', datasetRows: 30, backend: 'wasm' });
    let firstRun = '';
    // While this run trains, the first run finishes: it saves the same training under the job's id.
    const trainer = async (): Promise<Artifact> => {
      firstRun = await models.save(name, same, { jobId: 'job-s' });
      return same;
    };
    const result = await runTrainJob({ kind: 'train', model: name, dataset, config: {} }, { datasets, models, trainer }, 'job-s');
    expect(result).toEqual({ model: name, version: firstRun, promoted: true, ...(same.manifest.training.warnings ? { warnings: same.manifest.training.warnings } : {}) });
    expect(await models.currentVersion(name)).toBe(firstRun);
    expect(await models.versions(name)).toHaveLength(2);
  });

  it('fail a job whose model was deleted while it trained with MODEL_DELETED, without bringing the model back', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    await models.save(name, artifact);
    const dataset = `d-${suffix()}`;
    await datasets.put(dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    const trainer = async (): Promise<Artifact> => {
      await models.delete(name);
      return toArtifact(trained, { datasetFingerprint: 'new', datasetRows: 30, backend: 'wasm' });
    };
    const failed = runTrainJob({ kind: 'train', model: name, dataset, config: {} }, { datasets, models, trainer }, 'job-x');
    await expect(failed).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    await expect(failed.catch((e: unknown) => [describeError(e).code, describeError(e).retry])).resolves.toEqual(['MODEL_DELETED', false]);
    expect(await models.versions(name)).toEqual([]);
    expect(await models.list()).not.toContain(name);
  });

  it('refuse a save after a delete later than unlessDeletedAfter, in the write itself, leaving nothing', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    const before = new Date(Date.now() - 1000);
    await models.save(name, artifact);
    await models.delete(name);
    await expect(models.save(name, artifact, { unlessDeletedAfter: before })).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    await expect(models.save(name, artifact, { unlessDeletedAfter: before, candidate: 'LOW_VAL_AUC: x' })).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    expect(await models.versions(name)).toEqual([]);
    expect(await models.currentVersion(name)).toBeNull();
    expect(await models.list()).not.toContain(name);
    // Enqueued after the delete: saved.
    const v = await models.save(name, artifact, { unlessDeletedAfter: new Date(Date.now() + 1) });
    expect(await models.currentVersion(name)).toBe(v);
  });

  it('refuse a save while its job\'s cancellation mark exists (Redis; the filesystem has no queue to mark), with the mark\'s code and message', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    const mark = `nce-ood:job-cancel:test-${suffix()}`;
    await redis.set(mark, JSON.stringify({ id: 'j', code: 'JOB_CANCELLED', message: 'cancelled by a test' }));
    const saving = models.save(name, artifact, { unlessCancelled: mark });
    if (kind === 'redis') {
      await expect(saving).rejects.toMatchObject({ code: 'JOB_CANCELLED', message: 'cancelled by a test' });
      expect(await models.versions(name)).toEqual([]);
      expect(await models.list()).not.toContain(name);
    } else {
      const saved = await saving;
      expect(await models.currentVersion(name)).toBe(saved);
    }
    await redis.del(mark);
    // No mark: saved.
    const saved = await models.save(name, artifact, { unlessCancelled: mark });
    expect(await models.currentVersion(name)).toBe(saved);
  });

  it('finish a job whose version a run of it saved before its cancel came: the cancellation mark does not undo that save', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const dataset = `d-${suffix()}`;
    await datasets.put(dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    const mark = `nce-ood:job-cancel:test-${suffix()}`;
    const first = await models.save(name, artifact, { jobId: 'job-c', unlessCancelled: mark });
    // The cancel arrives after that save (the API answered 409 naming the version); the run that
    // saved lost its lock, and the job runs again, training the same records once more.
    await redis.set(mark, JSON.stringify({ id: 'job-c', code: 'JOB_CANCELLED', message: 'cancelled by a test' }));
    const trainer = async (): Promise<Artifact> => toArtifact(trained, { datasetFingerprint: 'other', datasetRows: 30, backend: 'wasm' });
    const result = await runTrainJob({ kind: 'train', model: name, dataset, config: {} }, { datasets, models, trainer }, 'job-c', undefined, { unlessCancelled: mark });
    expect(result).toMatchObject({ model: name, version: first });
    // The save itself, reached by a run that started before the first one saved, reports that version too.
    if (kind === 'redis') await expect(models.save(name, artifact, { jobId: 'job-c', unlessCancelled: mark })).rejects.toMatchObject({ version: first });
    expect(await models.versions(name)).toEqual([first]);
    expect(await models.currentVersion(name)).toBe(first);
    await redis.del(mark);
  });

  it('fail a job whose model is deleted after its own check, while the gate loads the current version: the model stays deleted', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const dataset = `d-${suffix()}`;
    await datasets.put(dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    await models.save(name, artifact);
    const enqueued = new Date(Date.now() - 1000);
    // The delete lands inside the gate's load of the current version, after runTrainJob's check.
    const racing = new Proxy(models, {
      get(target, prop) {
        if (prop === 'load') {
          return async (n: string, v: string) => {
            const loaded = await target.load(n, v);
            await target.delete(n);
            return loaded;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const trainer = async (): Promise<Artifact> => toArtifact(trained, { datasetFingerprint: 'other', datasetRows: 30, backend: 'wasm' });
    await expect(runTrainJob({ kind: 'train', model: name, dataset, config: {} }, { datasets, models: racing, trainer }, 'job-r', enqueued)).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    expect(await models.versions(name)).toEqual([]);
    expect(await models.currentVersion(name)).toBeNull();
  });

  it('fail the first training of a model deleted after it was enqueued, and remember the delete: a job enqueued after it trains', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const dataset = `d-${suffix()}`;
    await datasets.put(dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    expect(await models.deletedAt(name)).toBeNull();
    const enqueued = new Date(Date.now() - 1000);
    const trainer = async (): Promise<Artifact> => {
      // Nothing to delete yet: the delete is remembered all the same.
      expect(await models.delete(name)).toBe(false);
      return toArtifact(trained, { datasetFingerprint: 'new', datasetRows: 30, backend: 'wasm' });
    };
    const payload = { kind: 'train' as const, model: name, dataset, config: {} };
    await expect(runTrainJob(payload, { datasets, models, trainer }, 'job-y', enqueued)).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    expect(await models.list()).not.toContain(name);
    const at = await models.deletedAt(name);
    expect(at?.getTime()).toBeGreaterThan(enqueued.getTime());
    const plain = async (): Promise<Artifact> => toArtifact(trained, { datasetFingerprint: 'new', datasetRows: 30, backend: 'wasm' });
    await expect(runTrainJob(payload, { datasets, models, trainer: plain }, 'job-z', new Date(Date.now() + 1))).resolves.toMatchObject({ model: name });
    expect(await models.list()).toContain(name);
  });

  it('prune the oldest versions beyond the newest N, never the current one nor the one before it', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    const vs: string[] = [];
    for (let i = 0; i < 6; i++) vs.push(await models.save(name, artifact));
    // Rolled back to the second: it and the first (the one before it) stay whatever N says.
    await models.promote(name, vs[1]!);
    expect(await models.prune(name, 2)).toEqual([vs[2], vs[3]]);
    expect(await models.versions(name)).toEqual([vs[0], vs[1], vs[4], vs[5]]);
    expect(await models.currentVersion(name)).toBe(vs[1]);
    expect((await models.load(name, vs[1]!)).version).toBe(vs[1]);
    expect(await models.prune(name, 2)).toEqual([]);
    await models.delete(name);
  });

  it('keep the version rolled back to when a training saves a newer one: it is what a rollback goes back to', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    const vs: string[] = [];
    for (let i = 0; i < 3; i++) vs.push(await models.save(name, artifact));
    // The third was bad: rolled back to the second, then a training saves a fourth.
    await models.promote(name, vs[1]!);
    const saved = await storeVersion(models, name, artifact, { keepVersions: 2, force: true });
    expect(saved).toMatchObject({ promoted: true });
    // The newest two (the bad third and the fourth), and the second that was served before the fourth.
    expect(await models.versions(name)).toEqual([vs[1], vs[2], saved.version]);
    expect(await models.currentVersion(name)).toBe(saved.version);
    await models.delete(name);
  });

  it('save no new version when a retrain has the current version\'s records and config, and keep MODEL_KEEP_VERSIONS', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const v1 = await models.save(name, artifact);
    const payload = { kind: 'train' as const, model: name, dataset: `d-${suffix()}`, config: {} };
    await datasets.put(payload.dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    // The same training as v1's: nothing saved.
    await expect(runTrainJob(payload, { datasets, models, trainer: () => Promise.resolve(artifact) })).resolves.toMatchObject({ model: name, version: v1, promoted: true, unchanged: true });
    expect(await models.versions(name)).toEqual([v1]);
    // Known to repeat the current version before it trains (the dataset's fingerprint and the
    // config as training resolves it): it does not train at all.
    const { records, info } = await datasets.records(payload.dataset);
    const same = await models.save(name, toArtifact(trained, { datasetFingerprint: fingerprintRecords(records, info.columns), datasetRows: 30, backend: 'wasm' }));
    const untrained = () => Promise.reject(new Error('trained although nothing changed'));
    await expect(runTrainJob({ ...payload, config: trained.config }, { datasets, models, trainer: untrained })).resolves.toMatchObject({ version: same, unchanged: true });
    // A config that differs (one epoch more) trains.
    await expect(runTrainJob({ ...payload, config: { ...trained.config, epochs: trained.config.epochs + 1 } }, { datasets, models, trainer: untrained })).rejects.toThrow('trained although nothing changed');
    // Other records each time: saved, and only the newest 2 are kept.
    const saved: string[] = [];
    for (let i = 0; i < 3; i++) {
      const other = toArtifact(trained, { datasetFingerprint: `other-${i}`, datasetRows: 30, backend: 'wasm' });
      saved.push((await runTrainJob(payload, { datasets, models, keepVersions: 2, trainer: () => Promise.resolve(other) })).version);
    }
    expect(await models.versions(name)).toEqual(saved.slice(1));
    expect(await models.currentVersion(name)).toBe(saved[2]);
    await models.delete(name);
  });

  it('list a model\'s versions as a delete leaves them: versions gone meanwhile are left out, not reported damaged', async () => {
    const { models } = make();
    const name = `m-${suffix()}`;
    const [v1, v2] = [await models.save(name, artifact), await models.save(name, artifact)];
    // The delete lands between the listing and the reading of the artifacts.
    let deleting: Promise<boolean> | undefined;
    const deletedWhileRead = async (n: string, v: string) => {
      deleting ??= models.delete(n);
      await deleting;
      return models.load(n, v);
    };
    expect(await describeVersions(models, name, deletedWhileRead)).toEqual([]);
    // A version that stays listed but cannot be read is damaged, and says why without a path.
    const [w1, w2] = [await models.save(name, artifact), await models.save(name, artifact)];
    const listed = await describeVersions(models, name, (n, v) => (v === w1 ? Promise.reject(new NceError('ARTIFACT_INVALID', 'unreadable')) : models.load(n, v)));
    expect(listed).toEqual([expect.objectContaining({ version: w1, damaged: 'unreadable' }), expect.objectContaining({ version: w2, current: true })]);
    // A store that fails to answer says nothing of the version: the listing fails, nothing is called damaged.
    const outage = new Error('NOPERM this user has no permissions');
    await expect(describeVersions(models, name, () => Promise.reject(outage))).rejects.toBe(outage);
    expect([v1, v2]).not.toContain(w1);
    await models.delete(name);
  });

  it('train again, without saving a copy, only what the quality gate would not refuse again', async () => {
    const { models, datasets } = make();
    const name = `m-${suffix()}`;
    const payload = { kind: 'train' as const, model: name, dataset: `d-${suffix()}`, config: trained.config };
    await datasets.put(payload.dataset, ['f0', 'f1'], normalRecords(30, 2, 1));
    const { records, info } = await datasets.records(payload.dataset);
    const current = await models.save(name, artifact);
    const retrained = toArtifact(trained, { datasetFingerprint: fingerprintRecords(records, info.columns), datasetRows: 30, backend: 'wasm' });
    const strict = { minValAuc: 2, maxAucDrop: 0 };
    const refused = await runTrainJob(payload, { datasets, models, gate: strict, trainer: () => Promise.resolve(retrained) });
    expect(refused).toMatchObject({ promoted: false, reason: expect.stringContaining('below the gate') });
    expect(refused.unchanged).toBeUndefined();
    // The same records and config again, the gate as strict: that candidate, no training, no copy.
    const untrained = () => Promise.reject(new Error('trained although the gate refuses it again'));
    await expect(runTrainJob(payload, { datasets, models, gate: strict, trainer: untrained })).resolves.toEqual({ ...refused, unchanged: true });
    expect(await models.versions(name)).toEqual([current, refused.version]);
    expect(await models.currentVersion(name)).toBe(current);
    // Another config refused in between: the earlier candidate is still found, not only the newest.
    const other = { ...trained.config, epochs: trained.config.epochs + 1 };
    const otherArtifact = toArtifact({ ...trained, config: other }, { datasetFingerprint: fingerprintRecords(records, info.columns), datasetRows: 30, backend: 'wasm' });
    const second = await runTrainJob({ ...payload, config: other }, { datasets, models, gate: strict, trainer: () => Promise.resolve(otherArtifact) });
    expect(second).toMatchObject({ promoted: false });
    expect(second.unchanged).toBeUndefined();
    await expect(runTrainJob(payload, { datasets, models, gate: strict, trainer: untrained })).resolves.toEqual({ ...refused, unchanged: true });
    expect(await models.versions(name)).toEqual([current, refused.version, second.version]);
    // A gate that would pass it now: trained again and promoted.
    const passed = await runTrainJob(payload, { datasets, models, gate: { minValAuc: 0, maxAucDrop: 1 }, trainer: () => Promise.resolve(retrained) });
    expect(passed).toMatchObject({ promoted: true });
    expect(await models.currentVersion(name)).toBe(passed.version);
    await models.delete(name);
  });

  it('keep datasets whole: put replaces, append keeps the newest maxRows, a missing one is DATASET_NOT_FOUND', async () => {
    const { datasets } = make();
    const name = `d-${suffix()}`;
    expect(await datasets.info(name)).toBeNull();
    await expect(datasets.records(name)).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
    const rows = Array.from({ length: 2500 }, (_, i) => ({ a: i, b: i % 2 ? 'x' : null }));
    expect(await datasets.put(name, ['a', 'b'], rows)).toMatchObject({ name, rows: 2500, columns: ['a', 'b'] });
    expect((await datasets.records(name)).records).toEqual(rows);
    expect(await datasets.append(name, [{ a: -1, b: 'y' }], { maxRows: 10 })).toMatchObject({ rows: 10 });
    const kept = (await datasets.records(name)).records;
    expect(kept).toEqual([...rows.slice(-9), { a: -1, b: 'y' }]);
    await datasets.put(name, ['c'], [{ c: 1 }]);
    expect(await datasets.records(name)).toMatchObject({ info: { rows: 1, columns: ['c'] }, records: [{ c: 1 }] });
    expect((await datasets.list()).map((d) => d.name)).toContain(name);
    expect(await datasets.delete(name)).toBe(true);
    expect(await datasets.delete(name)).toBe(false);
    expect(await datasets.info(name)).toBeNull();
  });

  it('append 200,000 records in one call, in order, texts with newlines and quotes kept as they were', async () => {
    const { datasets } = make();
    const name = `d-${suffix()}`;
    await datasets.put(name, ['a', 'b'], [{ a: 0, b: 'first' }]);
    const many = Array.from({ length: 200_000 }, (_, i) => ({ a: i + 1, b: i % 1000 === 0 ? `line\n"${i}"\u2028` : null }));
    expect(await datasets.append(name, many)).toMatchObject({ rows: 200_001 });
    const stored = (await datasets.records(name)).records;
    expect(stored).toHaveLength(200_001);
    expect(stored[1]).toEqual(many[0]);
    expect(stored[200_000]).toEqual(many[199_999]);
    expect(stored.filter((r) => typeof r.b === 'string' && r.b.startsWith('line\n'))).toEqual(many.filter((r) => r.b !== null));
    await datasets.delete(name);
  });

  it('keep every row of concurrent appends, and never append to a dataset deleted meanwhile', async () => {
    const { datasets } = make();
    const name = `d-${suffix()}`;
    await datasets.put(name, ['a'], [{ a: 0 }]);
    const counts = await Promise.all(Array.from({ length: 8 }, (_, k) => datasets.append(name, Array.from({ length: 10 }, (_, i) => ({ a: 1 + k * 10 + i })))));
    expect(counts.map((c) => c.rows).sort((x, y) => x - y)).toEqual([11, 21, 31, 41, 51, 61, 71, 81]);
    expect((await datasets.records(name)).records.map((r) => r.a).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 81 }, (_, i) => i));
    for (let round = 0; round < 10; round++) {
      await datasets.put(name, ['a'], [{ a: 0 }]);
      const [appended] = await Promise.allSettled([datasets.append(name, [{ a: 1 }]), datasets.delete(name)]);
      if (appended.status === 'rejected') expect(appended.reason).toMatchObject({ code: 'DATASET_NOT_FOUND' });
      // Deleted last either way: nothing of it is left, whatever the order.
      expect(await datasets.info(name)).toBeNull();
      await expect(datasets.append(name, [{ a: 2 }])).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
      expect(await datasets.info(name)).toBeNull();
    }
  });

  it('append only to the columns and contract the records were checked against: a dataset replaced meanwhile by another is DATASET_CHANGED, with nothing appended', async () => {
    const { datasets } = make();
    const name = `d-${suffix()}`;
    const checked = await datasets.put(name, ['a', 'b'], [{ a: 1, b: 'x' }, { a: 2, b: 'y' }]);
    // Replaced by other columns after the records were checked against the first dataset.
    await datasets.put(name, ['c', 'd'], [{ c: 1, d: 2 }]);
    await expect(datasets.append(name, [{ a: 3, b: 'x' }], { expect: checked })).rejects.toMatchObject({ code: 'DATASET_CHANGED' });
    expect((await datasets.records(name)).records).toEqual([{ c: 1, d: 2 }]);
    // Same columns, but a contract that now forbids text in a: also refused.
    await datasets.put(name, ['a', 'b'], [{ a: 1, b: 'x' }, { a: 2, b: null }]);
    await expect(datasets.append(name, [{ a: 3, b: 'x' }], { expect: checked })).rejects.toMatchObject({ code: 'DATASET_CHANGED' });
    // Replaced by one of the same columns and contract: another dataset all the same, refused.
    const replaced = await datasets.put(name, ['a', 'b'], [{ a: 5, b: 'x' }, { a: 6, b: 'y' }]);
    expect(replaced.generation).not.toBe(checked.generation);
    await expect(datasets.append(name, [{ a: 3, b: 'x' }], { expect: checked })).rejects.toMatchObject({ code: 'DATASET_CHANGED' });
    expect((await datasets.records(name)).records).toEqual([{ a: 5, b: 'x' }, { a: 6, b: 'y' }]);
    // Checked against the dataset as it is, an append lands and keeps its generation; so does the next.
    const appended = await datasets.append(name, [{ a: 3, b: 'x' }], { expect: replaced, maxRows: 2 });
    expect(appended).toMatchObject({ rows: 2, columns: ['a', 'b'], generation: replaced.generation });
    expect(await datasets.append(name, [{ a: 4, b: 'y' }], { expect: await datasets.info(name) as DatasetInfo })).toMatchObject({ rows: 3 });
    expect((await datasets.records(name)).records).toEqual([{ a: 6, b: 'y' }, { a: 3, b: 'x' }, { a: 4, b: 'y' }]);
    expect(await datasets.info(name)).toMatchObject({ rows: 3, generation: replaced.generation });
    await datasets.delete(name);
  });

  it('append a key once: a repeat (concurrent too) appends nothing and says so; a PUT forgets the keys; only the newest REMEMBERED_APPEND_KEYS are kept', async () => {
    const { datasets } = make();
    const name = `d-${suffix()}`;
    await datasets.put(name, ['a'], [{ a: 0 }]);
    const first = await datasets.append(name, [{ a: 1 }], { key: 'k1' });
    expect(first).toMatchObject({ rows: 2 });
    expect(first.replayed).toBeUndefined();
    const again = await datasets.append(name, [{ a: 1 }], { key: 'k1' });
    expect(again).toMatchObject({ rows: 2, replayed: true, updatedAt: first.updatedAt });
    const racing = await Promise.all(Array.from({ length: 6 }, () => datasets.append(name, [{ a: 2 }], { key: 'k2' })));
    expect(racing.filter((r) => !r.replayed)).toHaveLength(1);
    expect((await datasets.records(name)).records).toEqual([{ a: 0 }, { a: 1 }, { a: 2 }]);
    // The same records with their fields in another order, or a missing one left out, are the same append.
    await datasets.put(`${name}-2`, ['a', 'b'], [{ a: 0, b: 'x' }]);
    await datasets.append(`${name}-2`, [{ a: 1, b: 'y' }, { a: 2, b: null }], { key: 'k' });
    expect((await datasets.append(`${name}-2`, [{ b: 'y', a: 1 }, { a: 2 }], { key: 'k' })).replayed).toBe(true);
    await datasets.delete(`${name}-2`);
    // The key of an append of other records (a client reusing keys) is refused, not replayed: those records would be lost unseen.
    await expect(datasets.append(name, [{ a: 3 }], { key: 'k1' })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    expect((await datasets.records(name)).records).toEqual([{ a: 0 }, { a: 1 }, { a: 2 }]);
    expect((await datasets.append(name, [{ a: 1 }], { key: 'k1' })).replayed).toBe(true);
    // What the store keeps to know its keys is not part of the dataset's summary.
    expect(Object.keys((await datasets.info(name)) as DatasetInfo).sort()).toEqual(['columns', 'generation', 'name', 'rows', 'schema', 'updatedAt']);
    await datasets.put(name, ['a'], [{ a: 0 }]);
    expect(await datasets.append(name, [{ a: 1 }], { key: 'k1' })).toMatchObject({ rows: 2 });
    // Past the limit, the oldest key is forgotten and appends again; the newest are still known.
    for (let k = 0; k < REMEMBERED_APPEND_KEYS; k++) await datasets.append(name, [{ a: 9 }], { key: `n${k}` });
    expect((await datasets.append(name, [{ a: 9 }], { key: `n${REMEMBERED_APPEND_KEYS - 1}` })).replayed).toBe(true);
    expect((await datasets.append(name, [{ a: 1 }], { key: 'k1' })).replayed).toBeUndefined();
    expect((await datasets.info(name))?.rows).toBe(2 + REMEMBERED_APPEND_KEYS + 1);
    await datasets.delete(name);
  });
});

describe('filesystem dataset store', () => {
  it('lists and describes a dataset from its first line, without reading its rows; files of the older one-object form still read', async () => {
    const root = join(dir, 'data-lines');
    const datasets = new FsDatasetStore(root);
    const put = await datasets.put('big', ['a'], [{ a: 1 }, { a: 2 }]);
    // Rows that could not be parsed: listing and describing the dataset do not touch them.
    const text = await readFile(join(root, 'big.json'), 'utf8');
    await writeFile(join(root, 'big.json'), `${text.split('\n')[0]}\n[{"a":`);
    expect(await datasets.info('big')).toEqual(put);
    expect(await datasets.list()).toEqual([put]);
    await writeFile(join(root, 'old.json'), JSON.stringify({ columns: ['x'], updatedAt: '2026-01-01T00:00:00.000Z', records: [{ x: 1 }, { x: 2 }] }));
    expect(await datasets.info('old')).toEqual({ name: 'old', rows: 2, columns: ['x'], updatedAt: '2026-01-01T00:00:00.000Z' });
    expect((await datasets.records('old')).records).toEqual([{ x: 1 }, { x: 2 }]);
    expect(await datasets.append('old', [{ x: 3 }])).toMatchObject({ rows: 3 });
    expect((await datasets.records('old')).records).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    // The form before rows files: a summary line, then the records as one array.
    await writeFile(join(root, 'lines.json'), `${JSON.stringify({ rows: 2, columns: ['x'], updatedAt: '2026-02-01T00:00:00.000Z', generation: 'g1' })}\n${JSON.stringify([{ x: 1 }, { x: 2 }])}`);
    expect((await datasets.records('lines')).records).toEqual([{ x: 1 }, { x: 2 }]);
    expect(await datasets.append('lines', [{ x: 3 }])).toMatchObject({ rows: 3, generation: 'g1' });
    expect(await datasets.append('lines', [{ x: 4 }])).toMatchObject({ rows: 4 });
    expect((await datasets.records('lines')).records).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }, { x: 4 }]);
  });

  it('appends by adding its own lines to the rows file, not by rewriting it; bytes an append left before a crash (beyond the summary\'s count) are never read, and the next append cuts them off', async () => {
    const root = join(dir, 'data-append');
    const datasets = new FsDatasetStore(root);
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ a: i, b: `t${i % 7}` }));
    await datasets.put('big', ['a', 'b'], rows);
    const rowsFiles = async () => (await readdir(root)).filter((f) => f.endsWith('.rows'));
    const [file] = await rowsFiles();
    const before = await readFile(join(root, file!));
    await datasets.append('big', [{ a: -1, b: 'x' }]);
    expect(await rowsFiles()).toEqual([file]);
    const after = await readFile(join(root, file!));
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(after.subarray(before.length).toString()).toBe('{"a":-1,"b":"x"}\n');
    // A crash after writing rows but before the summary that counts them.
    await writeFile(join(root, file!), '{"a":-2,"b":"lost"}\n{"a":', { flag: 'a' });
    expect((await datasets.records('big')).records).toEqual([...rows, { a: -1, b: 'x' }]);
    expect(await datasets.append('big', [{ a: -3, b: 'y' }])).toMatchObject({ rows: 20_002 });
    expect((await datasets.records('big')).records.slice(-3)).toEqual([rows.at(-1), { a: -1, b: 'x' }, { a: -3, b: 'y' }]);
    // A replacement writes new rows and deletes the old; so does a delete.
    await datasets.put('big', ['a'], [{ a: 1 }]);
    expect(await rowsFiles()).toHaveLength(1);
    expect(await rowsFiles()).not.toEqual([file]);
    await datasets.delete('big');
    expect(await rowsFiles()).toEqual([]);
  });

  it('keeps a rolling window (maxRows) by moving its start past dropped rows, and copies the kept bytes to a new file once more is dropped than kept', async () => {
    const root = join(dir, 'data-window');
    const datasets = new FsDatasetStore(root);
    await datasets.put('w', ['a'], Array.from({ length: 100 }, (_, a) => ({ a })));
    const sizes: number[] = [];
    for (let k = 0; k < 60; k++) {
      const batch = Array.from({ length: 7 }, (_, i) => ({ a: 100 + k * 7 + i }));
      expect(await datasets.append('w', batch, { maxRows: 100 })).toMatchObject({ rows: 100 });
      const [file] = (await readdir(root)).filter((f) => f.endsWith('.rows'));
      sizes.push((await readFile(join(root, file!))).length);
    }
    const all = Array.from({ length: 520 }, (_, a) => ({ a }));
    expect((await datasets.records('w')).records).toEqual(all.slice(-100));
    // Where the window starts in its file is the store's own: not part of the dataset's summary.
    expect(Object.keys((await datasets.info('w')) as DatasetInfo).sort()).toEqual(['columns', 'generation', 'name', 'rows', 'schema', 'updatedAt']);
    // The file never holds much more than twice the window, and one rows file at a time.
    const window = (await readFile(join(root, (await readdir(root)).find((f) => f.endsWith('.rows'))!))).length;
    expect(Math.max(...sizes)).toBeLessThan(2.5 * 100 * 10);
    expect(window).toBeGreaterThan(0);
    expect((await readdir(root)).filter((f) => f.endsWith('.rows'))).toHaveLength(1);
    // A batch larger than the window keeps its own newest rows.
    expect(await datasets.append('w', Array.from({ length: 150 }, (_, i) => ({ a: 1000 + i })), { maxRows: 100 })).toMatchObject({ rows: 100 });
    expect((await datasets.records('w')).records).toEqual(Array.from({ length: 100 }, (_, i) => ({ a: 1050 + i })));
  });

  it('reads a dataset whole while it is replaced and appended to: always one version of it, never a mix or an error', async () => {
    const root = join(dir, 'data-race');
    const datasets = new FsDatasetStore(root);
    const version = (k: number) => Array.from({ length: 3000 }, (_, i) => ({ v: k, i }));
    await datasets.put('d', ['v', 'i'], version(0));
    const writes = (async () => {
      for (let k = 1; k <= 10; k++) {
        await datasets.put('d', ['v', 'i'], version(k));
        await datasets.append('d', [{ v: k, i: 3000 }]);
      }
    })();
    const reads: Promise<void>[] = [];
    for (let r = 0; r < 30; r++) {
      reads.push(
        datasets.records('d').then(({ info, records }) => {
          expect(records).toHaveLength(info.rows);
          expect(new Set(records.map((x) => x.v)).size).toBe(1);
        }),
      );
      await new Promise((ok) => setTimeout(ok, 5));
    }
    await Promise.all([writes, ...reads]);
  });
});

describe('filesystem dataset store, damaged files', () => {
  it('a damaged summary does not stop a PUT or a delete; a rows file shorter than its summary counts is refused on read and append, never padded', async () => {
    const root = join(dir, 'data-damaged');
    const datasets = new FsDatasetStore(root);
    await datasets.put('d', ['a'], [{ a: 1 }, { a: 2 }]);
    const summary = await readFile(join(root, 'd.json'), 'utf8');
    await writeFile(join(root, 'd.json'), summary.slice(0, -1));
    expect(await datasets.put('d', ['a'], [{ a: 3 }])).toMatchObject({ rows: 1 });
    expect((await datasets.records('d')).records).toEqual([{ a: 3 }]);
    await writeFile(join(root, 'd.json'), '{"rows":');
    // Listing leaves it out, not fails for every dataset; its own routes say it is damaged.
    await datasets.put('fine', ['a'], [{ a: 1 }]);
    expect((await datasets.list()).map((d) => d.name)).toEqual(['fine']);
    await expect(datasets.info('d')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('"d" is damaged') });
    await expect(datasets.records('d')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(datasets.append('d', [{ a: 4 }])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(await datasets.delete('d')).toBe(true);
    expect(await datasets.info('d')).toBeNull();

    // The summary reached the disk, its rows did not all (a power loss without the rows' flush).
    await datasets.put('s', ['a'], [{ a: 1 }, { a: 2 }, { a: 3 }]);
    const [rowsFile] = (await readdir(root)).filter((f) => f.startsWith('s.') && f.endsWith('.rows'));
    await writeFile(join(root, rowsFile!), '{"a":1}\n{"a":2}\n');
    await expect(datasets.records('s')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('damaged') });
    await expect(datasets.append('s', [{ a: 4 }])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(await readFile(join(root, rowsFile!), 'utf8')).toBe('{"a":1}\n{"a":2}\n');
    expect(await datasets.put('s', ['a'], [{ a: 5 }])).toMatchObject({ rows: 1 });
  });
});

describe('sweepLeftovers', () => {
  it('removes dataset rows files no summary names (a PUT cut short), not the ones in use', async () => {
    const root = join(dir, 'data-sweep');
    const datasets = new FsDatasetStore(root);
    await datasets.put('kept', ['a'], [{ a: 1 }]);
    await writeFile(join(root, 'kept.deadbeef.00000000.rows'), '{"a":2}\n');
    expect(await sweepLeftovers(join(dir, 'no-models'), root)).toEqual([join(root, 'kept.deadbeef.00000000.rows')]);
    expect((await datasets.records('kept')).records).toEqual([{ a: 1 }]);
    // A summary that cannot be read keeps every rows file of its dataset: they may be all that is left.
    await datasets.put('hurt', ['a'], [{ a: 1 }]);
    const summary = await readFile(join(root, 'hurt.json'), 'utf8');
    await writeFile(join(root, 'hurt.json'), summary.slice(0, -1));
    await writeFile(join(root, 'other.deadbeef.00000000.rows'), '{"a":2}\n');
    expect(await sweepLeftovers(join(dir, 'no-models'), root)).toEqual([join(root, 'other.deadbeef.00000000.rows')]);
    expect((await readdir(root)).filter((f) => f.startsWith('hurt.') && f.endsWith('.rows'))).toHaveLength(1);
  });
});

describe('filesystem model store', () => {
  it('forgets a deletion after DELETION_MEMORY_MS, and drops its record at the next delete', async () => {
    const root = join(dir, `forget-${suffix()}`);
    const models = new FsModelStore(root);
    expect(await models.delete('never-was')).toBe(false);
    expect(await models.deletedAt('never-was')).not.toBeNull();
    // Deleted longer ago than the store remembers.
    await writeFile(join(root, '.deletions', 'never-was'), `${new Date(Date.now() - DELETION_MEMORY_MS - 1000).toISOString()}\n`);
    expect(await models.deletedAt('never-was')).toBeNull();
    expect(await models.delete('other')).toBe(false);
    expect((await readdir(join(root, '.deletions'))).sort()).toEqual(['other']);
  });
});

describe('redis dataset store', () => {
  it('leaves rows that a replacement could not finish to expire, and the rows it did finish without an expiry', async () => {
    const name = `d-${suffix()}`;
    const rows = Array.from({ length: 2500 }, (_, i) => ({ a: i }));
    await new RedisDatasetStore(redis).put(name, ['a'], rows);
    expect(await redis.ttl(redisKeys.datasetRows(name))).toBe(-1);
    // As a process that dies after writing the rows (3 chunks of 1,000): the rename never comes, nor the cleanup.
    const dying = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'eval') {
          return () => {
            throw new Error('process killed');
          };
        }
        if (prop === 'del') return async () => 0;
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(new RedisDatasetStore(dying).put(name, ['a'], rows)).rejects.toThrow('process killed');
    const left = await redis.keys(`${redisKeys.datasetRows(name)}:tmp-*`);
    expect(left).toHaveLength(1);
    const ttl = await redis.ttl(left[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TMP_ROWS_TTL_SECONDS);
    expect((await new RedisDatasetStore(redis).records(name)).records).toHaveLength(2500);
    await redis.del(left[0]!);
    await new RedisDatasetStore(redis).delete(name);
  });

  it('changes nothing when Redis dropped some or all of an upload\'s rows while they were written (evicted, or emptied): 503, the old dataset whole', async () => {
    const datasets = new RedisDatasetStore(redis);
    const name = `d-${suffix()}`;
    await datasets.put(name, ['x'], [{ x: 0 }, { x: 1 }]);
    const before = await datasets.info(name);
    const rows = Array.from({ length: 2500 }, (_, i) => ({ amount: i }));
    // Before the rows are placed, the temporary key loses them: all (evicted, FLUSHALL), or the
    // first chunks (emptied while the later ones were written).
    for (const lose of [(tmp: string) => redis.del(tmp), (tmp: string) => redis.ltrim(tmp, 2000, -1)]) {
      const losing = new Proxy(redis, {
        get(target, prop, receiver) {
          if (prop === 'eval') {
            return async (script: string, keys: number, tmp: string, ...rest: string[]) => {
              if (tmp.includes(':tmp-')) await lose(tmp);
              return target.eval(script, keys, tmp, ...rest);
            };
          }
          const v: unknown = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const refused = await new RedisDatasetStore(losing).put(name, ['amount'], rows).catch((e: unknown) => describeError(e));
      expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, message: expect.stringContaining(`dataset "${name}" was not replaced`) });
      expect(await datasets.info(name)).toEqual(before);
      expect((await datasets.records(name)).records).toEqual([{ x: 0 }, { x: 1 }]);
    }
    expect(await redis.keys(`${redisKeys.datasetRows(name)}:tmp-*`)).toEqual([]);
    await datasets.delete(name);
  });

  it('leaves no key behind when an append loses a race with a delete', async () => {
    const datasets = new RedisDatasetStore(redis);
    const name = `d-${suffix()}`;
    for (let round = 0; round < 20; round++) {
      await datasets.put(name, ['a'], [{ a: 0 }]);
      await Promise.allSettled([datasets.append(name, [{ a: 1 }], { maxRows: 5 }), datasets.delete(name)]);
      expect(await redis.exists(redisKeys.datasetMeta(name), redisKeys.datasetRows(name))).toBe(0);
    }
    // Nor the keys of its appends.
    await datasets.put(name, ['a'], [{ a: 0 }]);
    await datasets.append(name, [{ a: 1 }], { key: 'k' });
    expect(await redis.exists(redisKeys.datasetAppendKeys(name))).toBe(1);
    await datasets.delete(name);
    expect(await redis.exists(redisKeys.datasetAppendKeys(name))).toBe(0);
  });

  it('never replays a key of the dataset a PUT replaced, even where that PUT left the keys (a replica of an earlier version)', async () => {
    const datasets = new RedisDatasetStore(redis);
    const name = `d-${suffix()}`;
    await datasets.put(name, ['a'], [{ a: 0 }]);
    expect(await datasets.append(name, [{ a: 1 }], { key: 'k' })).toMatchObject({ rows: 2 });
    // Such a PUT: new meta and rows, the append keys left as they were.
    await redis.multi().del(redisKeys.datasetMeta(name)).hset(redisKeys.datasetMeta(name), { columns: '["a"]', updatedAt: 'x', generation: 'replaced' }).del(redisKeys.datasetRows(name)).rpush(redisKeys.datasetRows(name), '{"a":5}').exec();
    expect(await datasets.append(name, [{ a: 1 }], { key: 'k' })).toMatchObject({ rows: 2 });
    expect((await datasets.append(name, [{ a: 1 }], { key: 'k' })).replayed).toBe(true);
    await datasets.delete(name);
  });

  it('replays a key remembered before its records were (the key alone), whatever the records', async () => {
    const datasets = new RedisDatasetStore(redis);
    const name = `d-${suffix()}`;
    const { generation } = await datasets.put(name, ['a'], [{ a: 0 }]);
    await redis.zadd(redisKeys.datasetAppendKeys(name), 1, `${generation ?? ''}:old`);
    expect(await datasets.append(name, [{ a: 7 }], { key: 'old' })).toMatchObject({ rows: 1, replayed: true });
    await datasets.delete(name);
  });
});

describe('redis model store', () => {
  it("times a deletion and names a version by Redis's clock, not this host's (hosts' clocks drift apart)", async () => {
    const models = new RedisModelStore(redis);
    const name = `clock-${suffix()}`;
    const realNow = Date.now.bind(Date);
    const spy = jest.spyOn(Date, 'now');
    try {
      // A replica an hour behind saves, one an hour ahead deletes.
      spy.mockImplementation(() => realNow() - 3_600_000);
      const version = await models.save(name, artifact);
      spy.mockImplementation(() => realNow() + 3_600_000);
      await models.delete(name);
      spy.mockRestore();
      const serverMs = await redisNowMs(redis);
      const deletedAt = (await models.deletedAt(name))?.getTime() ?? 0;
      expect(Math.abs(deletedAt - serverMs)).toBeLessThan(5000);
      const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(version)?.slice(1).map(Number) ?? [];
      const versionMs = Date.UTC(stamp[0] ?? 0, (stamp[1] ?? 1) - 1, stamp[2], stamp[3], stamp[4], stamp[5], stamp[6]);
      expect(Math.abs(versionMs - serverMs)).toBeLessThan(5000);
      // So a job enqueued just before the delete, on a host whose clock is behind the deleting
      // one's, still cannot save: its enqueue time (Redis's too) is before the deletion's.
      await expect(models.save(name, artifact, { unlessDeletedAfter: new Date(serverMs - 1000) })).rejects.toMatchObject({ code: 'MODEL_DELETED' });
    } finally {
      spy.mockRestore();
    }
  });

  it('saves one version per job: another run of the same job saves nothing and names the one saved; a run whose job the queue no longer has saves nothing', async () => {
    const models = new RedisModelStore(redis);
    const name = `j-${suffix()}`;
    const jobKey = `test-queue:${name}:job`;
    await redis.set(jobKey, 'x');
    const first = await models.save(name, artifact, { jobId: 'job-1', whileExists: jobKey });
    await expect(models.save(name, artifact, { jobId: 'job-1', whileExists: jobKey })).rejects.toEqual(new SavedByAnotherRun(first));
    expect(await models.versions(name)).toEqual([first]);
    // Through a job's store step: the result is the version the other run saved, current.
    expect(await storeVersion(models, name, toArtifact(trained, { datasetFingerprint: 'y', datasetRows: 120, backend: 'wasm' }), { jobId: 'job-1', whileExists: jobKey })).toEqual({ model: name, version: first, promoted: true, ...(artifact.manifest.training.warnings ? { warnings: artifact.manifest.training.warnings } : {}) });
    expect(await models.versions(name)).toEqual([first]);
    // Another job saves; a job whose record is gone (Redis came back empty, or taken over) does not.
    const second = await models.save(name, artifact, { jobId: 'job-2', whileExists: jobKey });
    await redis.del(jobKey);
    await expect(models.save(name, artifact, { jobId: 'job-3', whileExists: jobKey })).rejects.toMatchObject({ code: 'WORKER_LOST' });
    expect(await models.versions(name)).toEqual([first, second]);
    await models.delete(name);
  });


  it("saves a run's version only while the job's lock holds the run's token: a run its worker gave up on (the job failed, or ran again) saves nothing", async () => {
    const models = new RedisModelStore(redis);
    const name = `lock-${suffix()}`;
    const lock = `test-queue:${name}:job:lock`;
    await redis.set(lock, 'worker-2:token-b');
    await expect(models.save(name, artifact, { jobId: 'job-1', whileExists: lock, holding: 'worker-1:token-a' })).rejects.toMatchObject({ code: 'WORKER_LOST' });
    await redis.del(lock);
    await expect(models.save(name, artifact, { jobId: 'job-1', whileExists: lock, holding: 'worker-1:token-a' })).rejects.toMatchObject({ code: 'WORKER_LOST' });
    expect(await models.versions(name)).toEqual([]);
    await redis.set(lock, 'worker-1:token-a');
    // The lock holds the token, but the job's record is gone (evicted): the run is lost all the same.
    await expect(models.save(name, artifact, { jobId: 'job-1', whileExists: lock, holding: 'worker-1:token-a' })).rejects.toMatchObject({ code: 'WORKER_LOST' });
    await redis.hset(lock.slice(0, -':lock'.length), 'name', 'train');
    const saved = await models.save(name, artifact, { jobId: 'job-1', whileExists: lock, holding: 'worker-1:token-a' });
    expect(await models.versions(name)).toEqual([saved]);
    await redis.del(lock.slice(0, -':lock'.length));
    await models.delete(name);
  });

  it('refuses a version whose stored weights were changed, and announces every new current version', async () => {
    const models = new RedisModelStore(redis);
    const sub = await openRedis(redisServer.url, 'subscriber');
    const events: ModelEvent[] = [];
    sub.on('message', (_c: string, m: string) => events.push(JSON.parse(m) as ModelEvent));
    await sub.subscribe(redisKeys.modelEvents);
    const name = `t-${suffix()}`;
    const v1 = await models.save(name, artifact);
    await models.save(name, artifact, { candidate: 'gate' });
    const damaged = Buffer.from(artifact.weights);
    damaged[0] = (damaged[0] as number) ^ 0xff;
    await redis.hset(redisKeys.version(name, v1), 'weights', damaged);
    await expect(models.load(name, v1)).rejects.toMatchObject({ code: 'ARTIFACT_TAMPERED' });
    await models.delete(name);
    // Nothing of the model is left behind, its version hashes included.
    expect(await redis.keys(`nce-ood:model:${name}:*`)).toEqual([]);
    // Only when it was deleted, for a week, so a training job enqueued before cannot bring it back.
    expect(await redis.ttl(`nce-ood:deletion:${name}`)).toBeGreaterThan(6 * 24 * 3600);
    await new Promise((r) => setTimeout(r, 200));
    expect(events.filter((e) => e.model === name)).toEqual([
      { model: name, version: v1 },
      { model: name, version: null },
    ]);
    await sub.quit();
  });
});

describe('a BullMQ scheduler whose record Redis lost', () => {
  it('is put again, though its orphaned next run holds the slot the new one takes', async () => {
    const name = `lost-${suffix()}`;
    const queue = new Queue<JobPayload, JobResult>(`lost-${suffix()}`, { connection: redis, prefix: QUEUE_PREFIX });
    const scheduler = new BullMqScheduler(queue, 1, redis);
    try {
      await scheduler.put(name, { cron: '0 0 1 1 *', dataset: name });
      // What an evicting Redis did (an outside probe): the scheduler's record gone, its next run still delayed.
      await redis.del(`${QUEUE_PREFIX}:${queue.name}:repeat:retrain:${name}`);
      await redis.zrem(`${QUEUE_PREFIX}:${queue.name}:repeat`, `retrain:${name}`);
      expect(await scheduler.get(name)).toBeNull();
      expect(await scheduler.put(name, { cron: '0 0 1 1 *', dataset: name })).toMatchObject({ model: name, cron: '0 0 1 1 *' });
      expect(await scheduler.get(name)).toMatchObject({ model: name, dataset: name });
      // One run waits for the slot, the new scheduler's.
      const runs = (await queue.getDelayed()).filter((j) => j.id?.startsWith(`repeat:retrain:${name}:`));
      expect(runs).toHaveLength(1);
      // That run failed (a cancel fails it), then the schedule deleted and put again: the failed job holds the slot.
      const [run] = runs;
      await run.promote();
      const workerConnection = await openRedis(redisServer.url, 'worker');
      const worker = new Worker(queue.name, null, { connection: workerConnection, prefix: QUEUE_PREFIX, autorun: false });
      const taken = await worker.getNextJob('token-1');
      expect(taken?.id).toBe(run.id);
      await taken?.moveToFailed(new Error('JOB_CANCELLED: cancelled'), 'token-1', false);
      await worker.close();
      await workerConnection.quit();
      expect(await queue.getJobState(run.id as string)).toBe('failed');
      await scheduler.delete(name);
      expect(await scheduler.put(name, { cron: '0 0 1 1 *', dataset: name })).toMatchObject({ model: name, cron: '0 0 1 1 *' });
      expect(await queue.getJobState(run.id as string)).toBe('delayed');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('a Redis at maxmemory', () => {
  it('still deletes datasets and models (noeviction refuses every write that adds, and every command of a MULTI): deleting is how its space is freed', async () => {
    const datasets = new RedisDatasetStore(redis);
    const models = new RedisModelStore(redis);
    const name = `full-${suffix()}`;
    await datasets.put(name, ['f0', 'f1'], normalRecords(500, 2, 3));
    await models.save(name, artifact);
    const queue = new Queue<JobPayload, JobResult>(`full-${suffix()}`, { connection: redis, prefix: QUEUE_PREFIX });
    const scheduler = new BullMqScheduler(queue, 1, redis);
    await scheduler.put(name, { cron: '0 3 * * *', dataset: name });
    const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', String(used - 20_000));
    try {
      const full = (): Promise<unknown> => expect(redis.set(`filler-${suffix()}`, 'x'.repeat(1000))).rejects.toThrow(/OOM/);
      await full();
      // Reads go on too (Redis refuses a MULTI whole then, reads and all): the API lists and trains.
      expect(await datasets.info(name)).toMatchObject({ name, rows: 500 });
      expect((await datasets.records(name)).records).toHaveLength(500);
      expect((await datasets.list()).map((d) => d.name)).toContain(name);
      // The schedule goes first, as DELETE /v1/models/{name} takes it: its lock between replicas is a write that adds.
      expect(await scheduler.delete(name)).toBe(true);
      expect(await scheduler.get(name)).toBeNull();
      await full();
      expect(await models.delete(name)).toBe(true);
      await full();
      expect(await datasets.delete(name)).toBe(true);
      expect(await datasets.info(name)).toBeNull();
      expect(await models.versions(name)).toEqual([]);
      // The deletion is remembered all the same: a job enqueued before cannot bring the model back.
      expect(await models.deletedAt(name)).not.toBeNull();
    } finally {
      await redis.config('SET', 'maxmemory', '0');
      await queue.close();
    }
  });
});

describe('a guarded Redis store', () => {
  it('answers a write that Redis refuses at maxmemory (noeviction) with STORAGE_FULL, and writes nothing', async () => {
    const datasets = guardRedis(new RedisDatasetStore(redis), redis);
    const models = guardRedis(new RedisModelStore(redis), redis);
    const name = `full-${suffix()}`;
    // Below what Redis already uses: with noeviction every write that needs memory is refused.
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', '1');
    try {
      await expect(datasets.put(name, ['f0', 'f1'], normalRecords(20_000, 2, 1))).rejects.toMatchObject({ code: 'STORAGE_FULL' });
      await expect(models.save(name, artifact)).rejects.toMatchObject({ code: 'STORAGE_FULL' });
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(await datasets.info(name)).toBeNull();
    expect(await models.versions(name)).toEqual([]);
  });

  it('answers writes Redis refuses for too few replicas (min-replicas-to-write) with STORE_UNAVAILABLE, and says it is not writable, which its INFO does not', async () => {
    const datasets = guardRedis(new RedisDatasetStore(redis), redis);
    const models = guardRedis(new RedisModelStore(redis), redis);
    const name = `noreplicas-${suffix()}`;
    expect(await models.writable()).toBe('ok');
    await redis.config('SET', 'min-replicas-to-write', '1');
    try {
      await expect(datasets.put(name, ['f0', 'f1'], normalRecords(20, 2, 1))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('NOREPLICAS') });
      await expect(models.save(name, artifact)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(await models.writable()).toBe('read-only');
    } finally {
      await redis.config('SET', 'min-replicas-to-write', '0');
    }
    expect(await models.writable()).toBe('ok');
    expect(await datasets.info(name)).toBeNull();
    expect(await models.versions(name)).toEqual([]);
  });

  it('answers a command Redis refuses for its state now (here an ACL that denies it) with STORE_UNAVAILABLE, and the versions list fails rather than calling versions damaged', async () => {
    const name = `acl-${suffix()}`;
    const version = await new RedisModelStore(redis).save(name, artifact);
    const user = `limited-${suffix()}`;
    await redis.call('ACL', 'SETUSER', user, 'on', 'nopass', '~*', '&*', '+@all', '-hmget');
    const limited = await openRedis(redisServer.url.replace('redis://', `redis://${user}:any@`), 'commands');
    try {
      const models = guardRedis(new RedisModelStore(limited), limited);
      await expect(models.load(name, version)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('NOPERM') });
      await expect(describeVersions(models, name)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      limited.disconnect();
      await redis.call('ACL', 'DELUSER', user);
      await new RedisModelStore(redis).delete(name);
    }
  });
});

describe('whenConnected', () => {
  it('waits for a client that is reconnecting after an outage, and gives up with STORE_UNAVAILABLE when Redis stays away', async () => {
    const server = await startRedis();
    const client = await openRedis(server.url, 'commands');
    try {
      await expect(whenConnected(client, 100)).resolves.toBeUndefined();
      await server.stop();
      for (let i = 0; i < 100 && client.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
      await expect(whenConnected(client, 200)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      // Back on the same port: the waiting caller goes on once the client has reconnected.
      const waiting = whenConnected(client, 15_000);
      const again = await startRedis({ port: server.port });
      try {
        await expect(waiting).resolves.toBeUndefined();
        expect(await client.ping()).toBe('PONG');
      } finally {
        await again.stop();
      }
    } finally {
      client.disconnect();
    }
  });
});

describe('openRedis', () => {
  it('waits for a Redis that comes up after the process, and gives up naming its address, never its password', async () => {
    const port = await freePort();
    const late = openRedis(`redis://127.0.0.1:${port}`, 'commands', 10_000);
    await new Promise((r) => setTimeout(r, 800));
    const server = await startRedis({ port });
    try {
      const client = await late;
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    } finally {
      await server.stop();
    }
    const refused = openRedis(`redis://nce:s3cret@127.0.0.1:${port}/2`, 'worker', 600);
    await expect(refused).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${port}/2 is unreachable \\(.+\\); waited 1 s$`)) });
    await expect(refused).rejects.not.toMatchObject({ message: expect.stringContaining('s3cret') });
  });

  it('uses the database the URL names, and refuses at once one the server does not have (the client would run on database 0)', async () => {
    const db3 = await openRedis(`${redisServer.url}/3`, 'commands');
    try {
      await db3.set('which-db', '3');
      expect(await redis.get('which-db')).toBeNull();
    } finally {
      await db3.del('which-db');
      db3.disconnect();
    }
    const started = Date.now();
    await expect(openRedis(`${redisServer.url}/99`, 'worker')).rejects.toMatchObject({ code: 'INVALID_SETTINGS', message: expect.stringMatching(/^invalid configuration: REDIS_URL: Redis at .* has no database 99 \(.*out of range.*\)/) });
    // Not the 15 s an unreachable Redis is waited for: waiting cannot give it that database.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up on an address that takes the connection but never answers, saying so', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', () => ok()));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      await expect(openRedis(`redis://127.0.0.1:${port}`, 'commands', 1000)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('no answer within') });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.close();
    }
  });
});

describe('a Redis that stops answering', () => {
  it('fails store calls with STORE_UNAVAILABLE once COMMAND_TIMEOUT_MS has passed, instead of holding them', async () => {
    const server = await startRedis();
    const client = await openRedis(server.url, 'commands');
    try {
      const store = guardRedis(new RedisModelStore(client), client);
      expect(await store.currentVersion('none')).toBeNull();
      server.child.kill('SIGSTOP');
      const started = Date.now();
      await expect(store.currentVersion('none')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 2000);
      server.child.kill('SIGCONT');
    } finally {
      server.child.kill('SIGCONT');
      client.disconnect();
      await server.stop();
    }
  });

  it('may still run an append it timed out (the 503 cannot know); the retry with the same key then appends nothing', async () => {
    const server = await startRedis();
    const client = await openRedis(server.url, 'commands');
    try {
      const datasets = guardRedis(new RedisDatasetStore(client), client);
      await datasets.put('d', ['a'], [{ a: 0 }]);
      server.child.kill('SIGSTOP');
      await expect(datasets.append('d', [{ a: 1 }], { key: 'batch-1' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      server.child.kill('SIGCONT');
      // The command was sent before the timeout: Redis runs it once it answers again.
      for (let i = 0; i < 50 && (await datasets.info('d'))?.rows !== 2; i++) await new Promise((ok) => setTimeout(ok, 100));
      expect(await datasets.append('d', [{ a: 1 }], { key: 'batch-1' })).toMatchObject({ rows: 2, replayed: true });
      expect((await datasets.records('d')).records).toEqual([{ a: 0 }, { a: 1 }]);
    } finally {
      server.child.kill('SIGCONT');
      client.disconnect();
      await server.stop();
    }
  });
});
