import { Cron } from 'croner';
import { parseExpression } from 'cron-parser';
import { messageOf } from '../nce';

/** A retraining schedule: train `model` on `dataset` with `config` whenever `cron` fires. */
export interface Schedule {
  cron: string;
  dataset: string;
  config?: unknown;
  /** IANA time zone the cron reads its times in; UTC when absent. */
  timezone?: string;
}

/** The time zone of schedules that name none. */
export const DEFAULT_TIMEZONE = 'UTC';

/** A schedule with its time zone and next firing time. */
export interface ScheduleInfo extends Schedule {
  model: string;
  timezone: string;
  nextRun: string | null;
  /**
   * When the schedule was created (a PUT that replaces it keeps the time; one after a delete
   * starts anew); its jobs carry it as `scheduleSince`. Absent for schedules stored before it was.
   */
  since?: string;
}

/** Cron retraining per model; `put` replaces a model's schedule. */
export interface Scheduler {
  /**
   * @param modelDeletedAt the model's last deletion: a schedule kept across it (a PUT raced the
   * delete, or a full store kept it) starts anew here, since its runs count as enqueued at its
   * `since` (see enqueuedAt) and would all fail MODEL_DELETED
   */
  put(model: string, schedule: Schedule, modelDeletedAt?: Date | null): Promise<ScheduleInfo>;
  get(model: string): Promise<ScheduleInfo | null>;
  /** Every model's schedule, by model name. */
  list(): Promise<ScheduleInfo[]>;
  delete(model: string): Promise<boolean>;
  /** Stops firing in this process (stored schedules stay). */
  stop(): Promise<void>;
}

/**
 * Checks a cron expression (5 fields, or 6 with seconds first); returns the problem or null. A
 * cron that never fires (February 30th) is a problem too: it is no schedule anyone means. Both
 * modes take the crons both their schedulers read: croner (embedded) and cron-parser (BullMQ's job
 * schedulers), which refuses some croner takes (`15W`, `LW`, `?`, `#` in a list): a cron that
 * one mode took and the other refused would be a 500 there, and a schedule that cannot move.
 */
export function cronProblem(cron: string): string | null {
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `"${cron}" has ${fields} fields; a cron has 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  try {
    const parsed = new Cron(cron, { paused: true });
    const next = parsed.nextRun();
    parsed.stop();
    if (next === null) return `"${cron}" never fires`;
  } catch (e: unknown) {
    // croner's words ("CronPattern: Invalid value for dayOfWeek: 2030"), with the fields spelt out:
    // a sixth field is seconds first, never a year (as Quartz crons end).
    const what = outOfRange(cron, messageOf(e)) ?? messageOf(e).replace(/^CronPattern:\s*/, '');
    const order = fields === 6 ? 'with 6 fields: second minute hour day-of-month month day-of-week; a year is not taken' : 'fields: minute hour day-of-month month day-of-week';
    return `"${cron}": ${what.charAt(0).toLowerCase()}${what.slice(1)} (${order})`;
  }
  try {
    parseExpression(cron);
    return null;
  } catch (e: unknown) {
    return `"${cron}": ${messageOf(e)} (the nearest weekday W, ? and # in a list are not taken)`;
  }
}

/** The values each of croner's fields takes, by its name in croner's messages, in the cron's words. */
const CRON_FIELDS: Record<string, { name: string; fromEnd: number; allowed: string }> = {
  second: { name: 'second', fromEnd: 6, allowed: '0-59' },
  minute: { name: 'minute', fromEnd: 5, allowed: '0-59' },
  hour: { name: 'hour', fromEnd: 4, allowed: '0-23' },
  day: { name: 'day-of-month', fromEnd: 3, allowed: '1-31, or L' },
  month: { name: 'month', fromEnd: 2, allowed: '1-12, or JAN-DEC' },
  dayOfWeek: { name: 'day-of-week', fromEnd: 1, allowed: '0-7 (0 and 7 are Sunday), or SUN-SAT' },
};

/**
 * croner's "Invalid value for day: 31" in the cron's own terms, or null for another message:
 * croner names the value it holds, which for days of the month and months counts from 0 (`32`
 * reads as 31, `0` as -1), so the field's text and the values it takes are said instead.
 */
function outOfRange(cron: string, message: string): string | null {
  const field = CRON_FIELDS[/Invalid value for (\w+):/.exec(message)?.[1] ?? ''];
  if (field === undefined) return null;
  const parts = cron.trim().split(/\s+/);
  const text = parts[parts.length - field.fromEnd];
  return `${field.name} ${JSON.stringify(text)} is out of range: it takes ${field.allowed}`;
}

/** Checks an IANA time zone name (e.g. Europe/Berlin); returns the problem or null. */
export function timezoneProblem(timezone: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return null;
  } catch {
    return `"${timezone}" is not an IANA time zone (such as UTC, Europe/Berlin or America/New_York)`;
  }
}

/** The `since` a replacing PUT keeps: the stored one, unless the model was deleted after it (see {@link Scheduler.put}). */
export function keptSince(stored: string | undefined, modelDeletedAt: Date | null | undefined): string | undefined {
  if (stored === undefined || !modelDeletedAt) return stored;
  return Date.parse(stored) > modelDeletedAt.getTime() ? stored : undefined;
}
