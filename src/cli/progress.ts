import type { EpochProgress, TrainingSummary } from '../nce';

/** Writes one line of training progress to stderr. */
export function reportEpoch(p: EpochProgress): void {
  process.stderr.write(
    `${p.pass > 1 ? 'final fit ' : ''}${p.partner ? 'kernel partner ' : ''}epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val_loss ${p.valLoss.toFixed(4)} val_auc ${p.valAuc.toFixed(4)} (${p.seconds.toFixed(1)}s)\n`,
  );
}

/** Writes the training summary line (the benchmark reads samples_per_second from it). */
export function reportTraining(t: TrainingSummary): void {
  process.stderr.write(
    `${(t.warnings ?? []).map((w) => `warning: ${w}\n`).join('')}trained ${t.history.filter((h) => !h.partner).length} epochs (best ${t.bestEpoch})${(t.partners ?? []).map((p) => `, a kernel partner ${p.epochsRun} (best ${p.bestEpoch})`).join('')} on ${t.trainRows} rows (${t.trimmedRows} trimmed) in ${t.seconds.toFixed(1)}s, val_auc ${t.valAuc.toFixed(4)}, samples_per_second=${Math.round(t.samplesPerSecond)}\n`,
  );
}
