import type { EpochProgress } from '../nce';

/** Writes one line of training progress to stderr. */
export function reportEpoch(p: EpochProgress): void {
  process.stderr.write(
    `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val_loss ${p.valLoss.toFixed(4)} val_auc ${p.valAuc.toFixed(4)} (${p.seconds.toFixed(1)}s)\n`,
  );
}
