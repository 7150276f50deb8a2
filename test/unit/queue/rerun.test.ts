import type { Artifact } from '../../../src/nce';
import { type JobInfo, runTrainJob } from '../../../src/queue';
import { selectJobs } from '../../../src/queue/job-queue';
import type { DatasetStore, ModelStore } from '../../../src/store';

/**
 * A job run again after a run of it saved its version (the process died, or stalled past its lock)
 * finishes that version instead of training another; what is current now stands.
 */
describe('a training job whose version a run of it already saved', () => {
  const models = (current: string, candidate: string | null, promote: jest.Mock): ModelStore =>
    ({
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
  const datasets = {} as DatasetStore;

  it('leaves a rollback made since its save in force (an outside probe: the rerun promoted its version again), with the version\'s warnings', async () => {
    const promote = jest.fn();
    const result = await runTrainJob(payload, { datasets, models: models('v1', null, promote), trainer }, 'job-1');
    expect(result).toEqual({ model: 'm', version: 'v2', promoted: true, warnings: ['a warning of its training'] });
    expect(promote).not.toHaveBeenCalled();
    expect(trainer).not.toHaveBeenCalled();
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
