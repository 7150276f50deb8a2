import { parseArgs } from 'node:util';

/** A command-line mistake: the message is shown with the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses `--flag value` options strictly: an unknown flag, a missing value or a missing required
 * flag is a UsageError that names it.
 */
export function parseFlags<K extends string>(argv: string[], flags: readonly K[], required: readonly K[]): Record<K, string | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (e: unknown) {
    throw new UsageError(e instanceof Error ? e.message.replace(/\. To specify.*$/s, '') : String(e));
  }
  for (const f of required) if (values[f] === undefined) throw new UsageError(`missing required flag --${f}`);
  return values as Record<K, string | undefined>;
}
