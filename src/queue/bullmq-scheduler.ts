import type { Queue } from 'bullmq';
import { jobOptions } from './bullmq-queue';
import type { JobPayload, JobResult } from './job-queue';
import { DEFAULT_TIMEZONE, type Schedule, type ScheduleInfo, type Scheduler } from './scheduler';

/** Distributed mode's cron: one BullMQ job scheduler per model, fired by whichever worker is up. */
export class BullMqScheduler implements Scheduler {
  constructor(
    private readonly queue: Queue<JobPayload, JobResult>,
    private readonly attempts: number,
  ) {}

  async put(model: string, schedule: Schedule): Promise<ScheduleInfo> {
    // Replacing a schedule keeps its creation time: its runs so far stay its runs.
    const since = (await this.get(model))?.since ?? new Date().toISOString();
    const payload: JobPayload = { kind: 'train', model, dataset: schedule.dataset, config: schedule.config ?? {}, trigger: 'schedule', scheduleSince: since };
    const tz = schedule.timezone ?? DEFAULT_TIMEZONE;
    await this.queue.upsertJobScheduler(schedulerId(model), { pattern: schedule.cron, tz }, { name: payload.kind, data: payload, opts: jobOptions(this.attempts) });
    return (await this.get(model)) as ScheduleInfo;
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
    return this.queue.removeJobScheduler(schedulerId(model));
  }

  /** Nothing fires in the API process: the workers run the schedulers. */
  async stop(): Promise<void> {}
}

/** The id of a model's BullMQ job scheduler: this, then the model's name. */
const SCHEDULER_PREFIX = 'retrain:';

function schedulerId(model: string): string {
  return `${SCHEDULER_PREFIX}${model}`;
}

function isEmpty(config: unknown): boolean {
  return config === undefined || (typeof config === 'object' && config !== null && Object.keys(config).length === 0);
}
