/** Why the engine refused something; the transport layers map each code to their own status. */
export type NceErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'INVALID_RECORD'
  | 'INSUFFICIENT_DATA'
  | 'ARTIFACT_INVALID'
  | 'ARTIFACT_TAMPERED'
  | 'BACKEND_UNAVAILABLE';

/** An error from the engine, with a stable code and, for record problems, where it is. */
export class NceError extends Error {
  readonly code: NceErrorCode;
  /** Index of the offending record, when one record is at fault. */
  readonly record?: number;
  /** Name of the offending field or config key. */
  readonly field?: string;

  constructor(code: NceErrorCode, message: string, where: { record?: number; field?: string; cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'NceError';
    this.code = code;
    if (where.record !== undefined) this.record = where.record;
    if (where.field !== undefined) this.field = where.field;
  }
}

/**
 * Whether `e` says a model artifact itself is at fault (files missing, incomplete, of another
 * format, or not matching their checksums), as opposed to a store that failed to answer.
 */
export function isArtifactFault(e: unknown): e is NceError {
  return e instanceof NceError && e.code.startsWith('ARTIFACT_');
}

/** The message of anything thrown: an Error's message, anything else as a string. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
