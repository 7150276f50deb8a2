import { z } from 'zod';

/**
 * Settings read from the environment. This module is the only code that reads `process.env`;
 * it validates everything at start-up and reports every problem at once.
 */
export const settingsSchema = z.object({
  /**
   * Force a tfjs backend instead of the best available (tensorflow > wasm > cpu).
   * @defaultValue unset
   */
  TF_BACKEND: z.enum(['tensorflow', 'wasm', 'cpu']).optional(),
  /** pino log level. @defaultValue 'info' */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Validated settings. */
export type Settings = z.output<typeof settingsSchema>;

/** A setting that failed validation, by variable name. */
export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * Parses settings from an environment (default: this process's); empty strings count as unset.
 * @throws SettingsError listing every bad variable
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = settingsSchema.safeParse(present);
  if (r.success) return r.data;
  throw new SettingsError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
}
