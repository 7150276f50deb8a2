import { Detector, initBackend, loadArtifact, NceError, type ScoreResult } from '../../nce';
import { parseFlags } from '../args';
import { CsvError, readCsv } from '../../store';
import type { CliContext } from '../context';

/** Records scored per forward pass: bounds memory on large files. */
const CHUNK = 4096;

/** `nce-ood score --model DIR --data FILE.csv`: CSV of results on stdout, in input order. */
export async function scoreCommand(argv: string[], ctx: CliContext): Promise<void> {
  const flags = parseFlags(argv, ['model', 'data'], ['model', 'data']);
  const file = flags.data as string;
  await initBackend(ctx.backend);
  const { state } = await loadArtifact(flags.model as string);
  const table = readCsv(file);
  const missing = state.schema.find((f) => !table.columns.includes(f.name));
  if (missing) throw new CsvError(file, 1, `missing column "${missing.name}" that the model was trained on`);
  const detector = new Detector(state);
  try {
    const out: string[] = ['score,logRatio,logDensity,percentile,ood'];
    for (let start = 0; start < table.records.length; start += CHUNK) {
      let results: ScoreResult[];
      try {
        results = detector.score(table.records.slice(start, start + CHUNK));
      } catch (e: unknown) {
        if (e instanceof NceError && e.record !== undefined) {
          throw new CsvError(file, table.lines[start + e.record], `column "${e.field}": ${e.message.replace(/^record \d+ /, '')}`);
        }
        throw e;
      }
      for (const r of results) out.push(formatRow(r));
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    detector.dispose();
  }
}

function formatRow(r: ScoreResult): string {
  return [r.score, r.logRatio, r.logDensity ?? '', r.percentile, r.ood].join(',');
}
