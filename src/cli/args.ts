import { parseArgs } from 'node:util';
import { AppError } from '../errors';
import { canonicalName } from '../nce';
import { NAME_PATTERN } from '../store';

/** A command-line mistake: the message is shown with the usage. */
export class UsageError extends AppError {
  constructor(message: string) {
    super('INVALID_REQUEST', message);
    this.name = 'UsageError';
  }
}

/**
 * Parses `--flag value` options (and `--switch` booleans) strictly: an unknown flag, a missing
 * value, a flag given twice or a missing required flag is a UsageError that names it. A switch given reads as 'true'.
 */
export function parseFlags<K extends string>(argv: string[], flags: readonly K[], required: readonly K[], switches: readonly K[] = []): Record<K, string | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(flags.map((f) => [f, { type: switches.includes(f) ? ('boolean' as const) : ('string' as const) }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (e: unknown) {
    throw new UsageError(e instanceof Error ? e.message.replace(/\. To specify.*$/s, '') : String(e));
  }
  // parseArgs keeps the last of a repeated flag: "--data a.csv --data b.csv" would drop a.csv unsaid.
  for (const f of flags) {
    const given = argv.filter((a) => a === `--${f}` || a.startsWith(`--${f}=`)).length;
    if (given > 1) throw new UsageError(`--${f} is given ${given} times: give it once${switches.includes(f) ? '' : ' (a list is one comma-separated value, where the flag takes one)'}`);
  }
  for (const f of required) if (values[f] === undefined) throw new UsageError(`missing required flag --${f}`);
  // "--data=" (a variable left unset): an empty path would read as "cannot read the file ''".
  for (const f of flags) if (values[f] === '' && !EMPTY_MEANS_NONE.includes(f)) throw new UsageError(`--${f} is given an empty value`);
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === true ? 'true' : v])) as Record<K, string | undefined>;
}

/** Flags whose empty value means an empty list ("--exclude ''": leave nothing out). */
const EMPTY_MEANS_NONE: readonly string[] = ['exclude', 'categorical'];

/** Columns `train` leaves out unless `--exclude` says otherwise: a benchmark CSV's label and split. */
export const DEFAULT_EXCLUDED = ['label', 'split'];

/** The `--exclude` list: comma-separated names; absent = {@link DEFAULT_EXCLUDED}; empty = none. */
export function excludedColumns(flag: string | undefined): string[] {
  return flag === undefined ? DEFAULT_EXCLUDED : columnList(flag);
}

/** A flag's comma-separated column names, trimmed, in the Unicode form a CSV header's are read in (NFC); empty = none. */
export function columnList(flag: string): string[] {
  return flag
    .split(',')
    .map((c) => canonicalName(c.trim()))
    .filter((c) => c.length > 0);
}

/** `--model NAME` (the registry under MODELS_DIR) or `--artifact DIR` (a folder), exactly one. */
export function modelOrArtifact(flags: { model?: string | undefined; artifact?: string | undefined }): { model: string } | { artifact: string } {
  if ((flags.model === undefined) === (flags.artifact === undefined)) throw new UsageError('give exactly one of --model NAME or --artifact DIR');
  if (flags.artifact !== undefined) return { artifact: flags.artifact };
  const model = flags.model as string;
  if (!NAME_PATTERN.test(model)) {
    throw new UsageError(`--model names a model in the registry (1-64 letters, digits, "_" or "-"); for a folder, use --artifact ${model}`);
  }
  return { model };
}
