import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadSettings, qualityGateOf } from '../config';
import { describe } from '../errors';
import { messageOf } from '../nce';
import { fileProblem } from '../store';
import { UsageError } from './args';
import { evalCommand } from './commands/eval.command';
import { reportCommand } from './commands/report.command';
import { scoreCommand } from './commands/score.command';
import { trainCommand } from './commands/train.command';
import type { CliContext } from './context';

/** The package's version, from the nearest package.json above this file (src/ or dist/). */
function version(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

/** Each command's usage line and what it does, for `nce-ood COMMAND --help`. */
const HELP: Record<string, { usage: string; about: string }> = {
  train: {
    usage: 'nce-ood train --data FILE.csv (--model NAME [--force] [--allow-schema-change] | --artifact DIR) [--config cfg.json] [--exclude COL,...] [--categorical COL,...]',
    about: `Trains a model on the CSV's records and saves it: as a new version of NAME in the registry under
MODELS_DIR (promoted when it passes the quality gate, or always with --force; exit code 3 when
the gate kept it as a candidate, so the version served did not change; a schema other than the
current version's passes only with --allow-schema-change), or as a folder DIR.
--config: a JSON file of training options; --exclude: columns left out (default: label,split);
--categorical: columns of category codes that look like numbers. A column of numbers with a few
texts ("n/a") is refused, naming its line: a missing value is an empty cell.`,
  },
  score: {
    usage: 'nce-ood score (--model NAME | --artifact DIR) --data FILE.csv [--keep all|COL,...]',
    about: `Scores every record of the CSV (--data -: standard input) with the current version of NAME (or the model folder DIR) and
writes CSV to stdout, one row per record in order: the columns --keep names first (all: every
input column), then score, logRatio, logDensity, percentile, ood.`,
  },
  eval: {
    usage: 'nce-ood eval  --data FILE.csv [--label-column label] [--split-column split] [--config cfg.json] [--categorical c,d]',
    about: `Trains on the rows whose split column says train, scores the rows that say test, and prints
the AUROC against the label column (1 = anomaly).`,
  },
  report: {
    usage: 'nce-ood report --model NAME [--data FILE.csv] [--values] --out report.html',
    about: `Writes a self-contained HTML report of the current version of NAME: its training, calibration
and, with --data, how the CSV's records score (--values lists them).`,
  },
};

const USAGE = `usage:\n${Object.values(HELP)
  .map((h) => `  ${h.usage}`)
  .join('\n')}\n  nce-ood COMMAND --help\n  nce-ood --version`;

/** A command resolves to nothing (exit code 0) or to an exit code of its own (3: `train --model` kept a candidate). */
const COMMANDS: Record<string, (argv: string[], ctx: CliContext) => Promise<void | number>> = {
  train: trainCommand,
  score: scoreCommand,
  eval: evalCommand,
  report: reportCommand,
};

/**
 * Runs the `nce-ood` command line; resolves to the exit code. Every failure is one line on stderr:
 * 2 for a usage mistake, 1 for bad data or a failed run; 3 when `train --model` saved a candidate.
 */
export async function run(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`nce-ood ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`nce-ood: unknown command "${name}" (see nce-ood --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${HELP[name].usage}\n\n${HELP[name].about}\n`);
    return 0;
  }
  try {
    const settings = loadSettings();
    const code = await command(rest, {
      backend: settings.TF_BACKEND,
      modelsDir: settings.MODELS_DIR,
      gate: qualityGateOf(settings),
      keepVersions: settings.MODEL_KEEP_VERSIONS,
      driftMinRecords: settings.DRIFT_MIN_RECORDS,
    });
    return code ?? 0;
  } catch (e: unknown) {
    if (e instanceof UsageError) {
      process.stderr.write(`nce-ood ${name}: ${e.message} (see nce-ood --help)\n`);
      return 2;
    }
    // Bad data, a bad config or settings: their message says it all. Anything else is unexpected.
    const failure = describe(e);
    process.stderr.write(`nce-ood ${name}: ${failure.isOperational ? '' : 'unexpected error: '}${messageOf(e)}\n`);
    return 1;
  }
}

/**
 * A reader that stops early (`nce-ood score ... | head`) closes the pipe: writing on fails with
 * EPIPE, which is no error of ours. The command ends there, quietly, as Unix tools do. Any other
 * write failure (ENOSPC) ends it with one line and exit code 1, not a stack trace.
 */
function quietOnClosedPipe(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    // Any other failure to write (a full disk, a file that cannot grow): one line, and exit 1.
    process.stderr.write(`nce-ood: cannot write the output: ${fileProblem(e)}\n`);
    process.exit(1);
  });
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
