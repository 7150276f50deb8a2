import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { messageOf } from '../nce';
import { KeyedSerial, writeFileAtomic } from '../store';
import type { JobQueue } from './job-queue';
import { DEFAULT_TIMEZONE, keptSince, type Schedule, type ScheduleInfo, type Scheduler } from './scheduler';

/** A schedule as its file holds it: with its creation time (absent in files from before it was kept). */
type StoredSchedule = Schedule & { since?: string };

/**
 * The embedded mode's cron: one timer per model that enqueues a training job, which then goes
 * through the quality gate. Schedules are kept as `root/<model>.json` and restored at start-up.
 */
export class InProcessScheduler implements Scheduler {
  private readonly timers = new Map<string, { cron: Cron; schedule: StoredSchedule }>();
  /** A model's puts and deletes, one at a time: the file and the timer then always agree. */
  private readonly changes = new KeyedSerial();

  constructor(
    private readonly root: string,
    private readonly queue: JobQueue,
    private readonly logger: Logger,
  ) {}

  /** Restores the stored schedules. */
  async start(): Promise<void> {
    let files: string[] = [];
    try {
      files = await readdir(this.root);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      const model = f.slice(0, -5);
      try {
        this.arm(model, JSON.parse(await readFile(join(this.root, f), 'utf8')) as StoredSchedule);
      } catch (e: unknown) {
        this.logger.error({ model, err: messageOf(e) }, 'stored schedule refused');
      }
    }
  }

  async put(model: string, schedule: Schedule, modelDeletedAt?: Date | null): Promise<ScheduleInfo> {
    return this.changes.run(model, async () => {
      // Replacing a schedule keeps its creation time: its runs so far stay its runs.
      const stored: StoredSchedule = { ...schedule, since: keptSince(this.timers.get(model)?.schedule.since, modelDeletedAt) ?? new Date().toISOString() };
      await writeFileAtomic(join(this.root, `${model}.json`), JSON.stringify(stored));
      this.arm(model, stored);
      return (await this.get(model)) as ScheduleInfo;
    });
  }

  async get(model: string): Promise<ScheduleInfo | null> {
    const t = this.timers.get(model);
    if (!t) return null;
    const next = t.cron.nextRun();
    return { model, ...t.schedule, timezone: t.schedule.timezone ?? DEFAULT_TIMEZONE, nextRun: next ? next.toISOString() : null };
  }

  async list(): Promise<ScheduleInfo[]> {
    const infos = await Promise.all([...this.timers.keys()].sort().map((m) => this.get(m)));
    return infos.filter((s): s is ScheduleInfo => s !== null);
  }

  async delete(model: string): Promise<boolean> {
    return this.changes.run(model, async () => {
      const t = this.timers.get(model);
      if (!t) return false;
      // The file first: a delete that fails leaves the schedule running, as it is still stored.
      // A file already gone is deleted; a folder gone (the models volume moved or unmounted) is
      // a store away (503), not a delete: the file is still there, and its schedule would come back
      // at the next start.
      await rm(join(this.root, `${model}.json`)).catch(async (e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await stat(this.root);
      });
      t.cron.stop();
      this.timers.delete(model);
      return true;
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers.values()) t.cron.stop();
    this.timers.clear();
  }

  private arm(model: string, schedule: StoredSchedule): void {
    this.timers.get(model)?.cron.stop();
    const cron = new Cron(schedule.cron, { protect: true, timezone: schedule.timezone ?? DEFAULT_TIMEZONE }, () => {
      // One scheduled run per model and schedule queued or running at a time: a cron that fires
      // faster than training runs would otherwise pile up jobs, and every other model's jobs
      // behind them. A schedule changed since (another dataset or config) is not held back by a
      // run of the old one.
      const key = createHash('sha256').update(JSON.stringify([schedule.dataset, schedule.config ?? {}])).digest('hex').slice(0, 16);
      this.queue
        .enqueue({ kind: 'train', model, dataset: schedule.dataset, config: schedule.config ?? {}, trigger: 'schedule', ...(schedule.since === undefined ? {} : { scheduleSince: schedule.since }) }, { dedupeKey: `schedule:${model}:${key}` })
        .then((job) => (job.created ? this.logger.info({ model, jobId: job.id }, 'scheduled retrain enqueued') : this.logger.info({ model, jobId: job.id }, 'scheduled retrain skipped: the last one has not finished')))
        .catch((e: unknown) => this.logger.error({ model, err: messageOf(e) }, 'scheduled retrain not enqueued'));
    });
    this.timers.set(model, { cron, schedule });
  }
}
