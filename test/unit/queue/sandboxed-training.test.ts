/**
 * The distributed worker's training process: after a WebAssembly trap its backend is unusable,
 * so it ends once the job's failure is sent instead of failing every later job it is handed.
 */
import type { SandboxedJob } from 'bullmq';
import { type JobPayload, type JobResult, TRAPPED_EXIT_CODE } from '../../../src/queue';

const runTrainJob = jest.fn();
/** The job's cancellation mark in Redis, and the version a run of the job saved, as the mocks read them. */
const stored: { cancel: string | null; savedVersion: string | null } = { cancel: null, savedVersion: null };

jest.mock('../../../src/store', () => {
  const actual = jest.requireActual<typeof import('../../../src/store')>('../../../src/store');
  return {
    ...actual,
    openRedis: async () => ({ get: async () => stored.cancel, disconnect: () => undefined }),
    whenConnected: async () => undefined,
    guardRedis: <T>(store: T) => store,
    RedisDatasetStore: class {},
    RedisModelStore: class {
      versionOfJob = async (): Promise<string | null> => stored.savedVersion;
    },
  };
});
jest.mock('../../../src/nce', () => ({ ...jest.requireActual<typeof import('../../../src/nce')>('../../../src/nce'), initBackend: async () => 'cpu' }));
jest.mock('../../../src/queue', () => ({ ...jest.requireActual<typeof import('../../../src/queue')>('../../../src/queue'), runTrainJob: (...args: unknown[]) => runTrainJob(...args) }));

process.env.REDIS_URL = 'redis://127.0.0.1:1';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const processTrainJob = (require('../../../workers/sandboxed-training') as typeof import('../../../workers/sandboxed-training')).default;

const job = { id: 'j1', data: { kind: 'train', model: 'm', dataset: 'd', config: {} }, timestamp: Date.now(), updateProgress: async () => undefined } as unknown as SandboxedJob<JobPayload, JobResult>;

interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, () => void> };
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
/** A module whose one function, f, executes `unreachable`. */
const UNREACHABLE = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);

/** A real WebAssembly trap, as the runtime throws it. */
function trap(): unknown {
  try {
    new Instance(new Module(UNREACHABLE), {}).exports.f();
  } catch (e: unknown) {
    return e;
  }
  throw new Error('the module did not trap');
}

describe('the sandboxed training process', () => {
  let kill: jest.SpiedFunction<typeof process.kill>;
  beforeEach(() => {
    kill = jest.spyOn(process, 'kill').mockImplementation(() => true);
  });
  afterEach(() => {
    stored.cancel = null;
    stored.savedVersion = null;
    kill.mockRestore();
    process.exitCode = undefined;
  });

  it('fails the job and ends itself after a WebAssembly trap', async () => {
    runTrainJob.mockRejectedValueOnce(trap());
    await expect(processTrainJob(job)).rejects.toThrow(/^\[INTERNAL\] unreachable/);
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGTERM');
    expect(process.exitCode).toBe(TRAPPED_EXIT_CODE);
  });

  it('fails the job and keeps serving after any other error', async () => {
    runTrainJob.mockRejectedValueOnce(new Error('the disk is full'));
    await expect(processTrainJob(job)).rejects.toThrow(/the disk is full/);
    expect(kill).not.toHaveBeenCalled();
    expect(process.exitCode).toBeUndefined();
  });

  it('fails a job cancelled while it waited, without training', async () => {
    runTrainJob.mockClear();
    stored.cancel = JSON.stringify({ id: 'j1', code: 'JOB_CANCELLED', message: 'cancelled by a test' });
    await expect(processTrainJob(job)).rejects.toThrow(/JOB_CANCELLED/);
    expect(runTrainJob).not.toHaveBeenCalled();
  });

  it('finishes a job whose version a run of it saved before the cancel came (that run lost its lock): the version stands', async () => {
    runTrainJob.mockClear();
    runTrainJob.mockResolvedValueOnce({ model: 'm', version: 'v1', promoted: true });
    stored.cancel = JSON.stringify({ id: 'j1', code: 'JOB_CANCELLED', message: 'cancelled by a test' });
    stored.savedVersion = 'v1';
    await expect(processTrainJob(job)).resolves.toEqual({ model: 'm', version: 'v1', promoted: true });
    expect(runTrainJob).toHaveBeenCalledTimes(1);
  });
});
