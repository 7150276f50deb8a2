import type { Logger } from 'pino';
import type { JobQueue } from './job-queue';
import { messageOf } from '../nce';

/** A model that retrains on `dataset` when its drift stays high (opt-in, from DRIFT_RETRAIN). */
export interface DriftPolicy {
  model: string;
  dataset: string;
}

/**
 * Drift-triggered retraining: when a model's score PSI stays above `psi` for `afterMs`, enqueue a
 * retrain with the served version's config, which then goes through the quality gate. At most one
 * retrain per model is pending (deduplicated by the queue, across replicas in distributed mode);
 * every retrain enqueued is logged and counted once, by the replica that enqueued it.
 */
export class DriftRetrainer {
  private readonly aboveSince = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: {
      policies: readonly DriftPolicy[];
      psi: number;
      afterMs: number;
      /** The model's current score PSI, or null when its window is too small to say. */
      drift: (model: string) => number | null;
      /** The training config of the version being served (a retrain keeps it). */
      configOf: (model: string) => Promise<unknown>;
      queue: JobQueue;
      logger: Logger;
      onTrigger: (model: string) => void;
    },
  ) {}

  /** Checks every policy now; returns the models a retrain was enqueued for. */
  async check(now = Date.now()): Promise<string[]> {
    const triggered: string[] = [];
    for (const { model, dataset } of this.deps.policies) {
      const psi = this.deps.drift(model);
      if (psi === null || !(psi > this.deps.psi)) {
        this.aboveSince.delete(model);
        continue;
      }
      const since = this.aboveSince.get(model) ?? now;
      this.aboveSince.set(model, since);
      if (now - since < this.deps.afterMs) continue;
      try {
        const job = await this.deps.queue.enqueue({ kind: 'train', model, dataset, config: await this.deps.configOf(model), trigger: 'drift' }, { dedupeKey: `drift-retrain:${model}` });
        // A retrain is still pending (enqueued here earlier, or by another replica): the queue
        // handed it back. Only the replica whose enqueue created the job counts the trigger.
        if (!job.created) continue;
        // Drift must stay high for the whole period again before the next trigger.
        this.aboveSince.delete(model);
        this.deps.onTrigger(model);
        this.deps.logger.warn({ model, dataset, psi, jobId: job.id }, 'drift stayed high: retrain enqueued');
        triggered.push(model);
      } catch (e: unknown) {
        this.deps.logger.error({ model, err: messageOf(e) }, 'drift retrain not enqueued');
      }
    }
    return triggered;
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
