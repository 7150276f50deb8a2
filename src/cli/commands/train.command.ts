import { fingerprintRecords, initBackend, saveArtifact, toArtifact, train } from '../../nce';
import { FsModelStore, NAME_PATTERN, readCsv } from '../../store';
import { parseFlags, UsageError } from '../args';
import { readTrainingConfig } from '../config-file';
import { reportEpoch, reportTraining } from '../progress';
import type { CliContext } from '../context';

/**
 * `nce-ood train --data FILE.csv (--out DIR | --model NAME) [--config cfg.json]`: `--out` writes
 * the artifact into DIR; `--model` stores it as the new current version of NAME in the registry
 * under MODELS_DIR, where a running service picks it up.
 */
export async function trainCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['data', 'out', 'model', 'config'], ['data']);
  if ((flags.out === undefined) === (flags.model === undefined)) throw new UsageError('give exactly one of --out DIR or --model NAME');
  if (flags.model !== undefined && !NAME_PATTERN.test(flags.model)) {
    throw new UsageError(`--model must be 1-64 letters, digits, "_" or "-", starting with a letter or digit`);
  }
  const config = readTrainingConfig(flags.config);
  const table = readCsv(flags.data as string);
  const backend = await initBackend(ctx.backend);
  process.stderr.write(`training on ${table.records.length} records, ${table.columns.length} features, backend ${backend}\n`);
  const result = await train(table.records, config, { columns: table.columns, onEpoch: reportEpoch });
  const artifact = toArtifact(result, {
    datasetFingerprint: fingerprintRecords(table.records, table.columns),
    datasetRows: table.records.length,
    backend,
  });
  reportTraining(result.training);
  let where: string;
  if (flags.model !== undefined) {
    const version = await new FsModelStore(ctx.modelsDir).save(flags.model, artifact);
    where = `model ${flags.model} version ${version} in ${ctx.modelsDir}`;
  } else {
    await saveArtifact(flags.out as string, artifact);
    where = flags.out as string;
  }
  process.stderr.write(`saved ${where} (ood threshold ${result.state.calibration.threshold.toFixed(3)})\n`);
}
