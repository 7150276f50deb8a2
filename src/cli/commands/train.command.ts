import { fingerprintRecords, initBackend, saveArtifact, toArtifact, train } from '../../nce';
import { parseFlags } from '../args';
import { readTrainingConfig } from '../config-file';
import { readCsv } from '../csv';
import { reportEpoch, reportTraining } from '../progress';
import type { CliContext } from '../context';

/** `nce-ood train --data FILE.csv --out DIR [--config cfg.json]` */
export async function trainCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['data', 'out', 'config'], ['data', 'out']);
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
  await saveArtifact(flags.out as string, artifact);
  reportTraining(result.training);
  process.stderr.write(`saved ${flags.out} (ood threshold ${result.state.calibration.threshold.toFixed(3)})\n`);
}
