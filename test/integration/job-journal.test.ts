import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { initBackend } from '../../src/nce';
import { type JobInfo, InProcessQueue } from '../../src/queue';
import { FsDatasetStore, FsModelStore } from '../../src/store';
import { normalRecords } from '../helpers/data';
import { eventually } from '../helpers/processes';

let dir: string;

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-journal-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A dataset store, a model store and its job journal of their own, under `dir`; the models folder made, as the service makes it at start. */
function stores(suffix: string): { datasets: FsDatasetStore; models: FsModelStore; journal: string; logger: Logger } {
  mkdirSync(join(dir, `models${suffix}`), { recursive: true });
  return { datasets: new FsDatasetStore(join(dir, `data${suffix}`)), models: new FsModelStore(join(dir, `models${suffix}`)), journal: join(dir, `models${suffix}`, '.jobs'), logger: pino({ level: 'silent' }) };
}

describe('the embedded queue across a restart', () => {
  it('shows finished jobs again and runs queued and interrupted ones to completion', async () => {
    const { datasets, models, journal, logger } = stores('');
    await datasets.put('d', ['f0', 'f1'], normalRecords(300, 2, 1));
    const config = { epochs: 2, seed: 1 };

    const first = new InProcessQueue({ datasets, models, logger, journal });
    const done = await first.enqueue({ kind: 'train', model: 'a', dataset: 'd', config });
    const queued = await first.enqueue({ kind: 'train', model: 'b', dataset: 'd', config }, { dedupeKey: 'retrain:b' });
    // Stops after the running job: the queued one is left to the next start.
    await first.close();
    expect((await first.get(done.id))?.state).toBe('completed');
    expect((await first.get(queued.id))?.state).toBe('queued');

    // A job the process was running when it died, and a record that cannot be read.
    const interrupted: JobInfo = { id: 'c0ffee00-0000-4000-8000-000000000000', state: 'running', payload: { kind: 'train', model: 'c', dataset: 'd', config }, progress: [], createdAt: new Date(0).toISOString(), startedAt: new Date(1).toISOString() };
    await writeFile(join(journal, `${interrupted.id}.json`), JSON.stringify(interrupted));
    await writeFile(join(journal, 'garbage.json'), '{"id":');
    await writeFile(join(journal, 'null.json'), 'null');

    const second = new InProcessQueue({ datasets, models, logger, journal });
    expect(await second.restore()).toBe(2);
    // The pending job keeps its dedupe key across the restart.
    expect(await second.enqueue({ kind: 'train', model: 'b', dataset: 'd', config }, { dedupeKey: 'retrain:b' })).toMatchObject({ id: queued.id, created: false });
    expect(await second.get(done.id)).toMatchObject({ state: 'completed', result: { model: 'a', promoted: true } });
    await eventually(async () => {
      expect(await second.get(queued.id)).toMatchObject({ state: 'completed', result: { model: 'b' } });
      expect(await second.get(interrupted.id)).toMatchObject({ state: 'completed', attempts: 2, result: { model: 'c' } });
      return true;
    }, 60_000, 'both jobs to complete after the restart');
    expect((await models.versions('b')).length).toBe(1);
    expect((await models.versions('c')).length).toBe(1);
    await second.close();
    // What the journal holds now reads back the same after another restart; nothing is left to run.
    const third = new InProcessQueue({ datasets, models, logger, journal });
    expect(await third.restore()).toBe(0);
    expect(await third.get(interrupted.id)).toEqual(await second.get(interrupted.id));
    expect((await readdir(journal)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('closed with a grace of 0, stops the running job at once, whether it trains or still reads its dataset, and leaves it to the next start', async () => {
    const { datasets, models, journal, logger } = stores('-grace');
    await datasets.put('d', ['f0', 'f1'], normalRecords(400, 2, 1));
    // Far longer than the test: only a stop ends it.
    const long = { epochs: 400, patience: 400, kernelPartner: false, seed: 1 };
    for (const waitMs of [0, 1500]) {
      const queue = new InProcessQueue({ datasets, models, logger, journal });
      const job = await queue.enqueue({ kind: 'train', model: `g${waitMs}`, dataset: 'd', config: long });
      // At once (the dataset is still being read), or once it trains.
      await new Promise((r) => setTimeout(r, waitMs));
      const started = Date.now();
      await queue.close(0);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await queue.get(job.id)).toMatchObject({ state: 'running' });
      expect(await models.versions(`g${waitMs}`)).toEqual([]);
    }
    // Stopped by a shutdown, not lost to a crash: those runs do not count against JOB_ATTEMPTS.
    const next = new InProcessQueue({ datasets, models, logger, journal, attempts: 1 });
    expect(await next.restore()).toBe(2);
    await next.close(0);
  }, 60_000);

  it('cancels a queued job at once and a running one by ending its thread: both fail with the reason, save nothing, and stay failed after a restart', async () => {
    const { datasets, models, journal, logger } = stores('-cancel');
    await datasets.put('d', ['f0', 'f1'], normalRecords(400, 2, 1));
    const long = { epochs: 400, patience: 400, kernelPartner: false, seed: 1 };
    const queue = new InProcessQueue({ datasets, models, logger, journal });
    const running = await queue.enqueue({ kind: 'train', model: 'r', dataset: 'd', config: long });
    const waiting = await queue.enqueue({ kind: 'train', model: 'w', dataset: 'd', config: long });
    const reason = { code: 'JOB_CANCELLED', message: 'cancelled by a test' };
    expect(await queue.cancel(waiting.id, reason)).toMatchObject({ state: 'failed', error: reason, finishedAt: expect.any(String) });
    // Answered once the journal says so: a crash right after the answer leaves it failed, not queued.
    const recorded = async (id: string): Promise<unknown> => JSON.parse(await readFile(join(journal, `${id}.json`), 'utf8'));
    expect(await recorded(waiting.id)).toMatchObject({ state: 'failed', error: reason });
    // Cancelled once it trains: it stops now, not after its 400 epochs.
    await eventually(async () => (((await queue.get(running.id))?.progress.length ?? 0) > 0 ? true : undefined), 30_000, 'the job to train');
    const started = Date.now();
    expect(await queue.cancel(running.id, reason)).toMatchObject({ state: 'failed', error: reason });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await recorded(running.id)).toMatchObject({ state: 'failed', error: reason });
    expect(await models.versions('r')).toEqual([]);
    expect(await models.versions('w')).toEqual([]);
    // A finished job is left as it is; an unknown one is null.
    expect(await queue.cancel(running.id, { code: 'MODEL_DELETED', message: 'x' })).toMatchObject({ error: reason });
    expect(await queue.cancel('nope', reason)).toBeNull();
    // The queue goes on: the next job runs.
    const next = await queue.enqueue({ kind: 'train', model: 'n', dataset: 'd', config: { epochs: 2, seed: 1 } });
    await eventually(async () => ((await queue.get(next.id))?.state === 'completed' ? true : undefined), 30_000, 'the next job to complete');
    await queue.close();
    const again = new InProcessQueue({ datasets, models, logger, journal });
    expect(await again.restore()).toBe(0);
    expect(await again.get(running.id)).toMatchObject({ state: 'failed', error: reason });
    await again.close();
  }, 60_000);

  it('a job cancelled while its record is still being written fails for good: it never runs, saves nothing, and finishes once', async () => {
    const { datasets, models, journal, logger } = stores('-cancel-early');
    await datasets.put('d', ['f0', 'f1'], normalRecords(300, 2, 1));
    const finished: string[] = [];
    const queue = new InProcessQueue({ datasets, models, logger, journal, onFinished: (job) => finished.push(`${job.payload.model} ${job.state}`) });
    const reason = { code: 'JOB_CANCELLED', message: 'cancelled by a test' };
    // Listed at once, while its journal record is written: a client can see it and cancel it then.
    const enqueued = queue.enqueue({ kind: 'train', model: 'early', dataset: 'd', config: { epochs: 2, seed: 1 } });
    const [listed] = await queue.list({ limit: 1 });
    expect(listed).toMatchObject({ state: 'queued', payload: { model: 'early' } });
    expect(await queue.cancel(listed!.id, reason)).toMatchObject({ state: 'failed', error: reason });
    expect(await enqueued).toMatchObject({ id: listed!.id, state: 'failed', created: true });
    // A job enqueued after it runs and completes; the cancelled one stayed failed and trained nothing
    // (it trained, promoted its version and ended "completed" with the cancel's error before).
    const next = await queue.enqueue({ kind: 'train', model: 'next', dataset: 'd', config: { epochs: 2, seed: 1 } });
    await eventually(async () => ((await queue.get(next.id))?.state === 'completed' ? true : undefined), 30_000, 'the next job to complete');
    expect(await queue.get(listed!.id)).toMatchObject({ state: 'failed', error: reason });
    expect((await queue.get(listed!.id))?.result).toBeUndefined();
    expect(await models.versions('early')).toEqual([]);
    expect(finished).toEqual(['early failed', 'next completed']);
    await queue.close();
  }, 60_000);

  it('fails as WORKER_LOST, instead of running again, a job the process was running at each of JOB_ATTEMPTS stops', async () => {
    const { datasets, models, journal, logger } = stores('-lost');
    await datasets.put('d', ['f0', 'f1'], normalRecords(100, 2, 1));
    await mkdir(journal, { recursive: true });
    const record = (id: string, attempts: number): JobInfo => ({ id, state: 'running', attempts, payload: { kind: 'train', model: 'x', dataset: 'd', config: { epochs: 1 } }, progress: [], createdAt: new Date(0).toISOString(), startedAt: new Date(1).toISOString() });
    await writeFile(join(journal, 'a.json'), JSON.stringify(record('a0000000-0000-4000-8000-000000000000', 3)));
    await writeFile(join(journal, 'b.json'), JSON.stringify(record('b0000000-0000-4000-8000-000000000000', 2)));
    const queue = new InProcessQueue({ datasets, models, logger, journal, attempts: 3 });
    // The third stop under a: failed for good; b had two, and runs a third time.
    expect(await queue.restore()).toBe(1);
    expect(await queue.get('a0000000-0000-4000-8000-000000000000')).toMatchObject({ state: 'failed', error: { code: 'WORKER_LOST', message: expect.stringContaining('stopped 3 times') } });
    await eventually(async () => ((await queue.get('b0000000-0000-4000-8000-000000000000'))?.state === 'completed' ? true : undefined), 30_000, 'b to complete');
    expect(await queue.get('b0000000-0000-4000-8000-000000000000')).toMatchObject({ attempts: 3 });
    await queue.close();
  }, 60_000);
});
