import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Artifact, toArtifact, train } from '../../../src/nce';
import { enqueuedAt, type JobInfo, runTrainJob } from '../../../src/queue';
import { runsOf } from '../../../src/queue/bullmq-queue';
import { selectJobs } from '../../../src/queue/job-queue';
import { type DatasetStore, FsModelStore, type ModelStore } from '../../../src/store';
import { normalRecords } from '../../helpers/data';

/**
 * A job run again after a run of it saved its version (the process died, or stalled past its lock)
 * finishes that version instead of training another; what is current now stands.
 */
describe('a training job whose version a run of it already saved', () => {
  const models = (current: string, candidate: string | null, promote: jest.Mock): ModelStore =>
    ({
      savesCurrentAtOnce: true,
      versionOfJob: async () => 'v2',
      candidateReason: async () => candidate,
      currentVersion: async () => current,
      load: async () => ({ manifest: { training: { warnings: ['a warning of its training'] } } }),
      promote,
    }) as unknown as ModelStore;
  const trainer = jest.fn(async (): Promise<Artifact> => {
    throw new Error('a rerun trains nothing');
  });
  const payload = { kind: 'train' as const, model: 'm', dataset: 'd', config: {} };
  const filePayload = { ...payload, model: 'f' };
  const datasets = {} as DatasetStore;

  it('leaves a rollback made since its save in force (an outside probe: the rerun promoted its version again), with the version\'s warnings', async () => {
    const promote = jest.fn();
    const result = await runTrainJob(payload, { datasets, models: models('v1', null, promote), trainer }, 'job-1');
    expect(result).toEqual({ model: 'm', version: 'v2', promoted: true, warnings: ['a warning of its training'] });
    expect(promote).not.toHaveBeenCalled();
    expect(trainer).not.toHaveBeenCalled();
  });

  it('on files, where the save and the pointer are two steps, makes the version current when the process died between them (a first training too)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-rerun-'));
    try {
      const store = new FsModelStore(dir);
      const artifact = toArtifact(await train(normalRecords(60, 3, 1), { epochs: 1 }), { datasetFingerprint: 'x', datasetRows: 60, backend: 'cpu' });
      const first = await store.save('f', artifact, { jobId: 'job-1' });
      // The process died after the folder, before the pointer.
      await rm(join(dir, 'f', 'CURRENT'), { force: true });
      expect(await store.currentVersion('f')).toBeNull();
      expect(await runTrainJob(filePayload, { datasets, models: store, trainer }, 'job-1')).toMatchObject({ version: first, promoted: true });
      expect(await store.currentVersion('f')).toBe(first);
      // A retrain likewise: the version before it was current, its own is newer.
      const second = await store.save('f', artifact, { jobId: 'job-2' });
      await store.promote('f', first);
      expect(await runTrainJob(filePayload, { datasets, models: store, trainer }, 'job-2')).toMatchObject({ version: second, promoted: true });
      expect(await store.currentVersion('f')).toBe(second);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a candidate as one, with its reason', async () => {
    const promote = jest.fn();
    const result = await runTrainJob(payload, { datasets, models: models('v1', 'SCHEMA_CHANGED', promote), trainer }, 'job-1');
    expect(result).toMatchObject({ version: 'v2', promoted: false, reason: 'SCHEMA_CHANGED' });
    expect(promote).not.toHaveBeenCalled();
  });
});

describe('a job list read state by state', () => {
  it('lists a job caught in two states once, in the later one', () => {
    const job = (id: string, state: JobInfo['state'], createdAt: string): JobInfo => ({ id, state, createdAt, payload: { kind: 'train', model: 'm', dataset: 'd', config: {} }, progress: [] }) as unknown as JobInfo;
    const listed = selectJobs([job('a', 'running', '2026-01-01T00:00:01Z'), job('b', 'queued', '2026-01-01T00:00:02Z'), job('a', 'completed', '2026-01-01T00:00:01Z')], { limit: 10 });
    expect(listed.map((j) => [j.id, j.state])).toEqual([
      ['b', 'queued'],
      ['a', 'completed'],
    ]);
    expect(selectJobs([job('a', 'running', '2026-01-01T00:00:01Z'), job('a', 'completed', '2026-01-01T00:00:01Z')], { limit: 10, state: 'running' })).toEqual([]);
  });
});

describe('the runs a distributed job had', () => {
  it('counts lost runs, and not the start BullMQ makes only to fail a job beyond its limits', () => {
    // Two lost runs, then one that completed: BullMQ's attemptsMade says 1.
    expect(runsOf({ attemptsMade: 1, attemptsStarted: 3, failedReason: '' })).toBe(3);
    // Three lost runs of JOB_ATTEMPTS 3 (an outside probe read 4): a fourth start fails the job at once.
    expect(runsOf({ attemptsMade: 0, attemptsStarted: 4, failedReason: 'job stalled more than allowable limit' })).toBe(3);
    expect(runsOf({ attemptsMade: 0, attemptsStarted: 4, failedReason: 'job started more than allowable limit' })).toBe(3);
    // Runs that failed with an error are counted by BullMQ itself.
    expect(runsOf({ attemptsMade: 3, attemptsStarted: 3, failedReason: '[INVALID_RECORD] record 3' })).toBe(3);
  });
});

describe('enqueuedAt', () => {
  const payload = { kind: 'train' as const, model: 'm', dataset: 'd', config: {} };
  it("counts a scheduled run from its schedule's creation (on the store's clock), any other job from when it was enqueued", () => {
    const created = Date.parse('2026-12-07T10:00:05.000Z');
    // A run the schedule fired on a host whose clock runs 5 s ahead still counts from the schedule.
    expect(enqueuedAt({ ...payload, trigger: 'schedule', scheduleSince: '2026-12-07T09:00:00.000Z' }, created).toISOString()).toBe('2026-12-07T09:00:00.000Z');
    expect(enqueuedAt({ ...payload, trigger: 'drift' }, created).getTime()).toBe(created);
    expect(enqueuedAt(payload, created).getTime()).toBe(created);
    // A schedule stored before it carried its creation time, or one not a time: when enqueued.
    expect(enqueuedAt({ ...payload, trigger: 'schedule' }, created).getTime()).toBe(created);
    expect(enqueuedAt({ ...payload, trigger: 'schedule', scheduleSince: 'soon' }, created).getTime()).toBe(created);
  });
});
