import { createMetrics, createTrainingMetrics, TRAINING_OUTCOMES, trainingOutcome } from '../../../src/metrics';

describe('training outcomes and failure counters', () => {
  it('tell a failure for good from a retried run and from a job whose model was deleted', () => {
    expect(trainingOutcome('completed')).toBe('completed');
    expect(trainingOutcome('failed', 'INVALID_RECORD')).toBe('failed');
    expect(trainingOutcome('failed', 'INTERNAL', true)).toBe('retried');
    expect(trainingOutcome('failed', 'INTERNAL', false)).toBe('failed');
    expect(trainingOutcome('failed', 'MODEL_DELETED')).toBe('cancelled');
    expect(trainingOutcome('failed', 'MODEL_DELETED', true)).toBe('cancelled');
  });

  it('export every outcome and scoring path from 0, so increase() sees a new process\'s first failure', async () => {
    for (const registry of [createMetrics().registry, createTrainingMetrics().registry]) {
      const text = await registry.metrics();
      for (const outcome of TRAINING_OUTCOMES) expect(text).toContain(`nce_ood_training_jobs_total{outcome="${outcome}"} 0`);
    }
    const api = await createMetrics().registry.metrics();
    for (const path of ['thread', 'in_place', 'thread_failed']) expect(api).toContain(`nce_ood_scored_batches_total{path="${path}"} 0`);
  });
});
