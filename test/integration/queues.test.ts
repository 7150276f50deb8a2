import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { BullMqQueue, InProcessQueue, type JobPayload, type JobProgress, type JobResult, QUEUE_NAME, runKeys, writeRunProgress } from '../../src/queue';
import { FsDatasetStore, FsModelStore, openRedis, redisKeys } from '../../src/store';
import { startRedis } from '../helpers/processes';

const payload: JobPayload = { kind: 'train', model: 'm', dataset: 'no-such-dataset', config: {} };

describe('queue deduplication', () => {
  it('embedded: a second enqueue with the key of a pending job gets that job, not created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-dedupe-'));
    const queue = new InProcessQueue({ datasets: new FsDatasetStore(join(dir, 'd')), models: new FsModelStore(join(dir, 'm')), logger: pino({ level: 'silent' }) });
    try {
      const a = await queue.enqueue(payload, { dedupeKey: 'k' });
      const b = await queue.enqueue(payload, { dedupeKey: 'k' });
      const c = await queue.enqueue(payload);
      expect([a.created, b.created, c.created]).toEqual([true, false, true]);
      expect(b.id).toBe(a.id);
      expect(c.id).not.toBe(a.id);
    } finally {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("distributed: a job's enqueue time and the queue's now are Redis's clock, whatever this host's reads", async () => {
    const server = await startRedis();
    const redis = await openRedis(server.url, 'commands');
    const q = new Queue<JobPayload, JobResult>(QUEUE_NAME, { connection: redis, prefix: `clock-${Date.now()}` });
    const realNow = Date.now.bind(Date);
    const spy = jest.spyOn(Date, 'now');
    try {
      const queue = new BullMqQueue(q, 1, redis);
      spy.mockImplementation(() => realNow() + 3_600_000);
      const ahead = await queue.enqueue(payload);
      const aheadNow = await queue.now();
      spy.mockImplementation(() => realNow() - 3_600_000);
      const behind = await queue.enqueue(payload);
      spy.mockRestore();
      const [seconds] = await redis.time();
      const serverMs = Number(seconds) * 1000;
      for (const at of [Date.parse(ahead.createdAt), Date.parse(behind.createdAt), aheadNow.getTime()]) expect(Math.abs(at - serverMs)).toBeLessThan(5000);
      // Enqueued in that order, they read in that order.
      expect(Date.parse(behind.createdAt)).toBeGreaterThanOrEqual(Date.parse(ahead.createdAt));
    } finally {
      spy.mockRestore();
      await q.close();
      await redis.quit();
      await server.stop();
    }
  });

  it("distributed: a run's progress is written into its job only while the job's lock holds the run's token, and never makes a job that is gone", async () => {
    const server = await startRedis();
    const redis = await openRedis(server.url, 'commands');
    try {
      const run = runKeys('job-7', 'worker-1:token-a');
      const progress = (epochs: number): JobProgress => ({ epochs: Array.from({ length: epochs }, (_, epoch) => ({ pass: 1, epoch, epochs: 10, loss: 0.5, valLoss: 0.5, valAuc: 0.5, seconds: 0.1 })) });
      await redis.hset(run.job, 'name', 'train');
      await redis.set(run.lock, 'worker-1:token-a');
      await writeRunProgress(redis, run, progress(1));
      expect(JSON.parse(String(await redis.hget(run.job, 'progress'))).epochs).toHaveLength(1);
      // The worker gave the run up; the job runs again under another token.
      await redis.set(run.lock, 'worker-2:token-b');
      await writeRunProgress(redis, run, progress(2));
      expect(JSON.parse(String(await redis.hget(run.job, 'progress'))).epochs).toHaveLength(1);
      // Without a token: while the job exists, and a job that is gone is not made again.
      await writeRunProgress(redis, runKeys('job-7', undefined), progress(3));
      expect(JSON.parse(String(await redis.hget(run.job, 'progress'))).epochs).toHaveLength(3);
      await writeRunProgress(redis, runKeys('job-8', undefined), progress(1));
      expect(await redis.exists(runKeys('job-8', undefined).job)).toBe(0);
      // Nor with a token: a job whose record Redis lost (evicted) while its lock held is not made again.
      const evicted = runKeys('job-9', 'worker-1:token-a');
      await redis.set(evicted.lock, 'worker-1:token-a');
      await writeRunProgress(redis, evicted, progress(1));
      expect(await redis.exists(evicted.job)).toBe(0);
      // A write Redis refuses is skipped, not thrown.
      await redis.config('SET', 'min-replicas-to-write', '1');
      await expect(writeRunProgress(redis, runKeys('job-7', undefined), progress(4))).resolves.toBeUndefined();
      await redis.config('SET', 'min-replicas-to-write', '0');
      expect(JSON.parse(String(await redis.hget(run.job, 'progress'))).epochs).toHaveLength(3);
    } finally {
      await redis.quit();
      await server.stop();
    }
  });

  it('distributed: a job whose record Redis lost in part is no job to show, and fails no listing', async () => {
    const server = await startRedis();
    const redis = await openRedis(server.url, 'commands');
    const q = new Queue<JobPayload, JobResult>(QUEUE_NAME, { connection: redis, prefix: `torn-${Date.now()}` });
    try {
      const queue = new BullMqQueue(q, 1, redis);
      const whole = await queue.enqueue(payload);
      const torn = await queue.enqueue({ ...payload, model: 'other' });
      // What an evicted record came back as (an outside probe): its progress alone, still listed as waiting.
      const key = `${q.opts.prefix}:${QUEUE_NAME}:${torn.id}`;
      await redis.del(key);
      await redis.hset(key, 'progress', '{"epochs":[]}');
      expect((await queue.list({ limit: 100 })).map((j) => j.id)).toEqual([whole.id]);
      expect(await queue.get(torn.id)).toBeNull();
      expect(await queue.get(whole.id)).toMatchObject({ id: whole.id, state: 'queued' });
    } finally {
      await q.close();
      await redis.quit();
      await server.stop();
    }
  });

  it('distributed: of two replicas enqueueing with one key, exactly one creates the job', async () => {
    const server = await startRedis();
    const connections: Redis[] = [];
    const queues: Queue<JobPayload, JobResult>[] = [];
    try {
      const prefix = `dedupe-${Date.now()}`;
      // Two replicas, each with its own connection, on one queue.
      const redisA = await openRedis(server.url, 'commands');
      const redisB = await openRedis(server.url, 'commands');
      connections.push(redisA, redisB);
      const qa = new Queue<JobPayload, JobResult>(QUEUE_NAME, { connection: redisA, prefix });
      const qb = new Queue<JobPayload, JobResult>(QUEUE_NAME, { connection: redisB, prefix });
      queues.push(qa, qb);
      const [a, b] = [new BullMqQueue(qa, 1, redisA), new BullMqQueue(qb, 1, redisB)];
      const first = await a.enqueue(payload, { dedupeKey: 'drift-retrain:m' });
      const [second, third] = await Promise.all([b.enqueue(payload, { dedupeKey: 'drift-retrain:m' }), a.enqueue(payload, { dedupeKey: 'drift-retrain:m' })]);
      expect([first.created, second.created, third.created]).toEqual([true, false, false]);
      expect(third.id).toBe(first.id);
      expect(second.id).toBe(first.id);
      expect((await a.enqueue(payload, { dedupeKey: 'another' })).created).toBe(true);
      // No worker runs: cancelled queued jobs wait for one to fail them, and do not count as queued
      // (MAX_QUEUED_JOBS), so cancelling makes room at once; GET still shows them queued till then.
      const third2 = await a.enqueue(payload);
      expect((await b.counts()).queued).toBe(3);
      await b.cancel(first.id, { code: 'JOB_CANCELLED', message: 'cancelled' });
      await a.cancel(third2.id, { code: 'JOB_CANCELLED', message: 'cancelled' });
      expect((await a.counts()).queued).toBe(1);
      expect((await b.counts()).queued).toBe(1);
      expect((await a.get(first.id))?.state).toBe('queued');
      // Its model deleted before a worker fails it: the cancel the user was answered 202 for stands.
      await a.cancel(first.id, { code: 'MODEL_DELETED', message: 'deleted' });
      expect(JSON.parse((await redisA.get(redisKeys.jobCancel(first.id))) ?? '{}')).toMatchObject({ id: first.id, code: 'JOB_CANCELLED' });
    } finally {
      for (const q of queues) await q.close();
      for (const c of connections) await c.quit();
      await server.stop();
    }
  });
});
