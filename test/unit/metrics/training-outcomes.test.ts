import { createMetrics, createTrainingMetrics, TRAINING_OUTCOMES, trainingOutcome } from '../../../src/metrics';

describe('training outcomes and failure counters', () => {
  it('tell a failure for good from a retried run and from a job whose model was deleted', () => {
    expect(trainingOutcome('completed')).toBe('completed');
    expect(trainingOutcome('failed', 'INVALID_RECORD')).toBe('failed');
    expect(trainingOutcome('failed', 'INTERNAL', true)).toBe('retried');
    expect(trainingOutcome('failed', 'INTERNAL', false)).toBe('failed');
    expect(trainingOutcome('failed', 'MODEL_DELETED')).toBe('cancelled');
    expect(trainingOutcome('failed', 'MODEL_DELETED', true)).toBe('cancelled');
    // Cancelled on purpose (DELETE /v1/jobs/{id}): nothing for NceOodTrainingFailures to page about.
    expect(trainingOutcome('failed', 'JOB_CANCELLED')).toBe('cancelled');
  });

  it('export every outcome, its duration and every scoring path from 0, so increase() sees a new process\'s first job', async () => {
    for (const registry of [createMetrics().registry, createTrainingMetrics().registry]) {
      const text = await registry.metrics();
      for (const outcome of TRAINING_OUTCOMES) {
        expect(text).toContain(`nce_ood_training_jobs_total{outcome="${outcome}"} 0`);
        // The duration too: a process's first training shows in rate() of its histogram.
        expect(text).toContain(`nce_ood_training_duration_seconds_count{outcome="${outcome}"} 0`);
      }
    }
    const api = await createMetrics().registry.metrics();
    for (const path of ['thread', 'in_place', 'thread_failed']) expect(api).toContain(`nce_ood_scored_batches_total{path="${path}"} 0`);
  });
});

describe('queue depth', () => {
  it('does not hold a scrape on a queue that stalls, and shows no series while the queue cannot be read rather than the last counts', async () => {
    const metrics = createMetrics();
    let answer: () => Promise<Record<'queued' | 'running' | 'completed' | 'failed', number>> = () => Promise.resolve({ queued: 2, running: 1, completed: 25, failed: 0 });
    metrics.watchQueue(() => answer());
    expect(await metrics.registry.metrics()).toContain('nce_ood_queue_jobs{state="completed"} 25');
    // Stalled (a Redis that stopped answering): the scrape answers within about a second, without the series.
    answer = () => new Promise(() => undefined);
    const started = Date.now();
    const stalled = await metrics.registry.metrics();
    expect(Date.now() - started).toBeLessThan(2500);
    expect(stalled).not.toMatch(/^nce_ood_queue_jobs\{/m);
    expect(stalled).toContain('nce_ood_scored_records_total');
    // Failing at once (Redis down): no series either.
    answer = () => Promise.reject(new Error('Connection is closed.'));
    expect(await metrics.registry.metrics()).not.toMatch(/^nce_ood_queue_jobs\{/m);
  });
});
