import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { InProcessScheduler, type JobInfo, type JobPayload, type JobQueue } from '../../src/queue';

/** A queue whose jobs never finish, deduplicating by key as the real ones do; it counts the jobs created. */
function pendingQueue(): { queue: JobQueue; created: () => number } {
  const byKey = new Map<string, JobInfo>();
  let created = 0;
  const enqueue = async (payload: JobPayload, options: { dedupeKey?: string } = {}): Promise<JobInfo & { created: boolean }> => {
    const pending = options.dedupeKey === undefined ? undefined : byKey.get(options.dedupeKey);
    if (pending) return { ...pending, created: false };
    created++;
    const job: JobInfo = { id: String(created), state: 'queued', payload, progress: [], createdAt: new Date().toISOString() };
    if (options.dedupeKey !== undefined) byKey.set(options.dedupeKey, job);
    return { ...job, created: true };
  };
  return { queue: { enqueue } as unknown as JobQueue, created: () => created };
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

describe('embedded schedules', () => {
  it('a cron that fires faster than training runs keeps one scheduled job per model pending, not a pile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-sched-'));
    const { queue, created } = pendingQueue();
    const scheduler = new InProcessScheduler(dir, queue, pino({ level: 'silent' }));
    try {
      await scheduler.put('m', { cron: '* * * * * *', dataset: 'd' });
      await new Promise((r) => setTimeout(r, 3500));
      expect(created()).toBe(1);
      // Changed (another dataset): its runs are not held back by the old schedule's pending one.
      await scheduler.put('m', { cron: '* * * * * *', dataset: 'd2' });
      await new Promise((r) => setTimeout(r, 2500));
      expect(created()).toBe(2);
    } finally {
      await scheduler.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('puts and deletes of one schedule racing each other leave the timer and the stored file agreeing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-sched-race-'));
    const scheduler = new InProcessScheduler(dir, pendingQueue().queue, pino({ level: 'silent' }));
    try {
      for (let i = 0; i < 100; i++) {
        const model = `m${i}`;
        await scheduler.put(model, { cron: '0 3 * * *', dataset: 'd' });
        // The delete a few hundred microseconds to a few milliseconds after the put, as two clients send them.
        const put = scheduler.put(model, { cron: '0 4 * * *', dataset: 'd' });
        await new Promise((r) => setTimeout(r, (i % 4) / 2));
        await Promise.all([put, scheduler.delete(model)]);
        expect((await scheduler.get(model)) !== null).toBe(await exists(join(dir, `${model}.json`)));
      }
      // What was stored is what a restart serves.
      const restarted = new InProcessScheduler(dir, pendingQueue().queue, pino({ level: 'silent' }));
      await restarted.start();
      for (let i = 0; i < 100; i++) expect((await restarted.get(`m${i}`)) !== null).toBe((await scheduler.get(`m${i}`)) !== null);
      await restarted.stop();
    } finally {
      await scheduler.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a PUT keeps its schedule\'s since, unless the model was deleted after it: then its runs would count as enqueued before the deletion and fail, so it starts anew', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-sched-'));
    const scheduler = new InProcessScheduler(dir, pendingQueue().queue, pino({ level: 'silent' }));
    try {
      const first = await scheduler.put('m', { cron: '0 3 * * *', dataset: 'd' });
      await new Promise((r) => setTimeout(r, 5));
      expect((await scheduler.put('m', { cron: '0 4 * * *', dataset: 'd' }, null)).since).toBe(first.since);
      const deletedAt = new Date();
      await new Promise((r) => setTimeout(r, 5));
      const anew = await scheduler.put('m', { cron: '0 4 * * *', dataset: 'd' }, deletedAt);
      expect(Date.parse(String(anew.since))).toBeGreaterThan(deletedAt.getTime());
      // And kept from then on.
      expect((await scheduler.put('m', { cron: '0 5 * * *', dataset: 'd' }, deletedAt)).since).toBe(anew.since);
    } finally {
      await scheduler.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
