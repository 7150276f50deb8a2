import type { Logger } from 'pino';
import type { JobInfo, JobQueue } from './job-queue';
import { messageOf } from '../nce';

/** A model that retrains on `dataset` when its drift stays high (opt-in, from DRIFT_RETRAIN). */
export interface DriftPolicy {
  model: string;
  dataset: string;
}

/**
 * Doublings of the wait at most (64 times DRIFT_RETRAIN_AFTER_SECONDS: 16 hours at its default of
 * 15 minutes) between retrains that leave the same version served.
 */
export const MAX_BACKOFF_DOUBLINGS = 6;

/**
 * The wait the doublings start from at least: with DRIFT_RETRAIN_AFTER_SECONDS 0 (retrain as soon
 * as drift is high), doubling 0 would retrain a version the gate keeps refusing at every check.
 */
export const MIN_BACKOFF_MS = 60_000;

/** How many of a model's newest jobs are looked through for a drift retrain another replica enqueued. */
const RECENT_JOBS = 20;

/** How many of a model's newest jobs are looked through for the served version's drift retrains (see DriftRetrainer.recover). */
const RECOVERED_JOBS = 200;

/** A model's score drift now: the PSI (null while the window is too small) and the version it is of. */
export interface ModelDrift {
  psi: number | null;
  version: string;
}

/**
 * Drift-triggered retraining: when a model's score PSI stays above `psi` for `afterMs`, enqueue a
 * retrain with the served version's config, which then goes through the quality gate. At most one
 * retrain per model is pending (deduplicated by the queue, across replicas in distributed mode);
 * every retrain enqueued is logged and counted once, by the replica that enqueued it.
 *
 * A retrain that leaves the same version served (its records and config unchanged, refused by the
 * gate, or failed) cannot lower the drift, which then stays high: each further retrain of that
 * version waits twice as long as the one before (afterMs, 2 afterMs, 4 afterMs, ... up to
 * 2^{@link MAX_BACKOFF_DOUBLINGS} afterMs; the doublings start from {@link MIN_BACKOFF_MS} at
 * least), so a lasting shift upstream or a reference full of
 * anomalies does not cost a full training every period forever. A new version served starts over:
 * its drift is timed from when it was first seen high on it, not from a rise on the version
 * before (whose retrain made it), so a version served after a long training gets its full wait.
 *
 * Replicas each run this check, and their windows fill at their own pace. A drift retrain of the
 * model that another replica enqueued, still pending or enqueued less than the wait ago (at least
 * {@link MIN_BACKOFF_MS}: with a wait of 0, or drift seen high on one replica seconds after the
 * other), is taken as this trigger's: it advances the backoff here too and is not enqueued or
 * counted again. (A retrain that changed nothing ends in milliseconds, and the queue's dedupe ends
 * with it.)
 */
export class DriftRetrainer {
  /** Per model: since when its drift has been high, and on which version. */
  private readonly aboveSince = new Map<string, { version: string; since: number }>();
  /**
   * Per model: the version drift retrains were enqueued for, how many since it was served, and the
   * last one's job (found pending again, it is the same retrain and counts once).
   */
  private readonly streaks = new Map<string, { version: string; count: number; job: string }>();
  /** Per model: the served version whose streak was last read back from the queue (or tried). */
  private readonly recoveredFor = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: {
      policies: readonly DriftPolicy[];
      psi: number;
      afterMs: number;
      /** The model's current score drift, or null when it has no window. */
      drift: (model: string) => ModelDrift | null;
      /** The training config of the version being served (a retrain keeps it). */
      configOf: (model: string) => Promise<unknown>;
      queue: JobQueue;
      logger: Logger;
      onTrigger: (model: string) => void;
    },
  ) {}

  /** Drift retrains enqueued for `version` of `model` since it was served. */
  private streak(model: string, version: string): number {
    const streak = this.streaks.get(model);
    return streak?.version === version ? streak.count : 0;
  }

  /** How long drift must stay high before the next retrain of `version`. */
  waitMs(model: string, version: string): number {
    const streak = this.streak(model, version);
    if (streak === 0) return this.deps.afterMs;
    return Math.max(this.deps.afterMs, MIN_BACKOFF_MS) * 2 ** Math.min(streak, MAX_BACKOFF_DOUBLINGS);
  }

  /** Checks every policy now; returns the models a retrain was enqueued for. */
  async check(now = Date.now()): Promise<string[]> {
    const triggered: string[] = [];
    for (const { model, dataset } of this.deps.policies) {
      const drift = this.deps.drift(model);
      const psi = drift?.psi ?? null;
      if (drift === null || psi === null || !(psi > this.deps.psi)) {
        this.aboveSince.delete(model);
        continue;
      }
      await this.recover(model, drift.version);
      const above = this.aboveSince.get(model);
      const since = above?.version === drift.version ? above.since : now;
      this.aboveSince.set(model, { version: drift.version, since });
      const wait = this.waitMs(model, drift.version);
      if (now - since < wait) continue;
      try {
        // Jobs are timed on the queue's clock (Redis's in distributed mode), which this host's may
        // be minutes off: the wait is counted back on that clock.
        const skew = await this.queueClockSkew();
        const job =
          (await this.recentRetrain(model, now + skew - Math.max(wait, MIN_BACKOFF_MS))) ??
          (await this.deps.queue.enqueue({ kind: 'train', model, dataset, config: await this.deps.configOf(model), trigger: 'drift', servedVersion: drift.version }, { dedupeKey: `drift-retrain:${model}` }));
        // Created here, or still pending from an earlier trigger (here or on another replica): a
        // retrain of this version is under way either way. Drift must stay high for the next,
        // longer wait before another; only the replica whose enqueue created the job counts it.
        this.aboveSince.delete(model);
        const same = this.streaks.get(model)?.job === job.id && this.streak(model, drift.version) > 0;
        if (!same) this.streaks.set(model, { version: drift.version, count: this.streak(model, drift.version) + 1, job: job.id });
        if (!job.created) continue;
        this.deps.onTrigger(model);
        this.deps.logger.warn({ model, dataset, psi, jobId: job.id, nextWaitSeconds: this.waitMs(model, drift.version) / 1000 }, 'drift stayed high: retrain enqueued');
        triggered.push(model);
      } catch (e: unknown) {
        this.deps.logger.error({ model, err: messageOf(e) }, 'drift retrain not enqueued');
      }
    }
    return triggered;
  }

  /**
   * Reads back, when a version is served that this process has no streak for (after a restart, a
   * rollback, or on a replica that did not enqueue them), that version's drift retrains that left
   * it served, as their jobs name it (`servedVersion`): kept in memory only, the backoff started
   * over at every restart, and a service that restarts often (deploys, a crash loop) retrained a
   * refused version at the base wait for ever (an outside probe). The queue keeps finished jobs,
   * so the count survives; a queue that cannot answer leaves the streak as it is.
   */
  private async recover(model: string, version: string): Promise<void> {
    if (this.recoveredFor.get(model) === version || this.streaks.get(model)?.version === version) return;
    this.recoveredFor.set(model, version);
    try {
      const jobs = (await this.deps.queue.list({ model, limit: RECOVERED_JOBS })).filter(
        (j) => j.payload.kind === 'train' && j.payload.trigger === 'drift' && j.payload.servedVersion === version && !(j.state === 'completed' && j.result?.promoted === true && j.result.unchanged !== true),
      );
      if (jobs.length > 0 && this.streaks.get(model)?.version !== version) this.streaks.set(model, { version, count: jobs.length, job: jobs[0]!.id });
    } catch (e: unknown) {
      this.deps.logger.warn({ model, err: messageOf(e) }, 'drift retrains of the served version not read back: its backoff starts over');
    }
  }

  /**
   * How far the queue's clock is ahead of this host's, in whole seconds: the waits are a minute
   * or more, and a skew below a second (or the time the ask takes) does not matter.
   */
  private async queueClockSkew(): Promise<number> {
    const asked = Date.now();
    const queueNow = (await this.deps.queue.now()).getTime();
    return Math.round((queueNow - (asked + Date.now()) / 2) / 1000) * 1000;
  }

  /**
   * A drift retrain of `model` still pending, or enqueued at `since` or later (by any replica), as
   * an enqueue that found it would hand it back; null when there is none.
   */
  private async recentRetrain(model: string, since: number): Promise<(JobInfo & { created: false }) | null> {
    const jobs = await this.deps.queue.list({ model, limit: RECENT_JOBS });
    const found = jobs.find((j) => j.payload.kind === 'train' && j.payload.trigger === 'drift' && (j.state === 'queued' || j.state === 'running' || Date.parse(j.createdAt) >= since));
    return found ? { ...found, created: false } : null;
  }

  /** Checks every `intervalMs` until stopped. */
  start(intervalMs: number): void {
    if (this.deps.policies.length === 0) return;
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
