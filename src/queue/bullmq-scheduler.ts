import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Cron } from 'croner';
import { messageOf } from '../nce';
import { redisFull, redisKeys, redisNowMs } from '../store';
import { jobOptions } from './bullmq-queue';
import type { JobPayload, JobResult } from './job-queue';
import { DEFAULT_TIMEZONE, keptSince, type Schedule, type ScheduleInfo, type Scheduler } from './scheduler';

/** Longest a replica holds a model's schedule lock: a put or delete takes a few commands. */
const LOCK_MS = 5000;

/** Deletes the lock only while it is still the caller's (its token). */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Distributed mode's cron: one BullMQ job scheduler per model, fired by whichever worker is up. */
export class BullMqScheduler implements Scheduler {
  constructor(
    private readonly queue: Queue<JobPayload, JobResult>,
    private readonly attempts: number,
    /** The connection that holds the schedule locks (see {@link BullMqScheduler.locked}). */
    private readonly redis: Redis,
  ) {}

  async put(model: string, schedule: Schedule, modelDeletedAt?: Date | null): Promise<ScheduleInfo> {
    return this.locked(model, async () => {
      // Replacing a schedule keeps its creation time: its runs so far stay its runs. (Read and
      // written under the lock: a DELETE between them would leave a new schedule the old time.)
      // Redis's clock, as a model's deletion's: its runs count as enqueued then (see enqueuedAt).
      const since = keptSince((await this.get(model))?.since, modelDeletedAt) ?? new Date(await redisNowMs(this.redis)).toISOString();
      const payload: JobPayload = { kind: 'train', model, dataset: schedule.dataset, config: schedule.config ?? {}, trigger: 'schedule', scheduleSince: since };
      const tz = schedule.timezone ?? DEFAULT_TIMEZONE;
      const upsert = (): Promise<unknown> => this.queue.upsertJobScheduler(schedulerId(model), { pattern: schedule.cron, tz }, { name: payload.kind, data: payload, opts: jobOptions(this.attempts) });
      try {
        await upsert();
      } catch (e: unknown) {
        if (!SLOT_TAKEN.test(messageOf(e))) throw e;
        // A job of this model's scheduler already holds the slot the new scheduler's first run
        // takes: the next run of a scheduler whose record was lost (evicted, deleted), or one
        // cancelled (failed) before the schedule was deleted and put again. Every put failed on it
        // until the slot passed (an outside probe: 500s; with a yearly cron, for a year). That job
        // goes, unless it runs now; the new scheduler makes its own.
        await this.removeSlotJob(model, schedule.cron, tz);
        await upsert();
      }
      const written = await this.get(model);
      if (written) return written;
      // As written (not there any more only where a delete ran meanwhile without the lock: one
      // that waited for it comes after this answer).
      const next = new Cron(schedule.cron, { timezone: tz }).nextRun();
      return { model, ...schedule, timezone: tz, nextRun: next ? next.toISOString() : null, since };
    });
  }

  /**
   * Removes the job that holds the slot of a scheduler's next run, `repeat:<scheduler id>:<ms>` (as
   * BullMQ names it: the cron's next time from now), whatever its state but running.
   */
  private async removeSlotJob(model: string, cron: string, tz: string): Promise<void> {
    const next = new Cron(cron, { timezone: tz }).nextRun();
    if (next === null) return;
    const id = `repeat:${schedulerId(model)}:${next.getTime()}`;
    const state = await this.queue.getJobState(id);
    if (state !== 'unknown' && state !== 'active') await this.queue.remove(id);
  }

  async get(model: string): Promise<ScheduleInfo | null> {
    const s = await this.queue.getJobScheduler(schedulerId(model));
    const data = s?.template?.data;
    if (!s || !s.pattern || !data) return null;
    return {
      model,
      cron: s.pattern,
      dataset: data.dataset,
      ...(isEmpty(data.config) ? {} : { config: data.config }),
      timezone: s.tz ?? DEFAULT_TIMEZONE,
      nextRun: s.next ? new Date(s.next).toISOString() : null,
      ...(data.scheduleSince === undefined ? {} : { since: data.scheduleSince }),
    };
  }

  async list(): Promise<ScheduleInfo[]> {
    const models = (await this.queue.getJobSchedulers(0, -1))
      .map((s) => s.key)
      .filter((key) => key.startsWith(SCHEDULER_PREFIX))
      .map((key) => key.slice(SCHEDULER_PREFIX.length))
      .sort();
    // Each read on its own: one deleted meanwhile is left out.
    const infos = await Promise.all(models.map((m) => this.get(m)));
    return infos.filter((s): s is ScheduleInfo => s !== null);
  }

  async delete(model: string): Promise<boolean> {
    const remove = (): Promise<boolean> => this.queue.removeJobScheduler(schedulerId(model));
    try {
      return await this.locked(model, remove);
    } catch (e: unknown) {
      // Redis at maxmemory refuses the lock (a SET that adds), not the removal (a script that
      // deletes): deleting is how its space is freed, and DELETE /v1/models/{name} unschedules
      // first. A put racing it on another replica is refused by the full Redis too.
      if (!redisFull(e)) throw e;
      return remove();
    }
  }

  /**
   * Runs a change of `model`'s schedule while no other replica changes it: puts and deletes from
   * several replicas take turns, each whole. The lock expires after {@link LOCK_MS}, should its
   * holder die; waiting for it longer is a store outage.
   */
  private async locked<T>(model: string, change: () => Promise<T>): Promise<T> {
    const client = this.redis;
    const key = redisKeys.scheduleLock(model);
    const token = randomBytes(8).toString('hex');
    const deadline = Date.now() + 2 * LOCK_MS;
    while ((await client.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new Error(`Command timed out: the schedule of "${model}" stayed locked by another replica`);
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
    try {
      return await change();
    } finally {
      await client.eval(UNLOCK_SCRIPT, 1, key, token).catch(() => undefined);
    }
  }

  /** Nothing fires in the API process: the workers run the schedulers. */
  async stop(): Promise<void> {}
}

/** The id of a model's BullMQ job scheduler: this, then the model's name. */
const SCHEDULER_PREFIX = 'retrain:';

/** BullMQ's refusal of a scheduler whose next run's slot a job already holds (its error code -10). */
const SLOT_TAKEN = /Cannot create job scheduler iteration/;

function schedulerId(model: string): string {
  return `${SCHEDULER_PREFIX}${model}`;
}

function isEmpty(config: unknown): boolean {
  return config === undefined || (typeof config === 'object' && config !== null && Object.keys(config).length === 0);
}
