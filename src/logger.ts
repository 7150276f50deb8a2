import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * What clients put on their errors that can carry record values: ioredis puts the failed command
 * and its arguments on its errors as `command`, and a dataset append's arguments are its records.
 */
const DATA_FIELDS = ['command', 'args'];

/**
 * pino's error serialiser without {@link DATA_FIELDS}. It writes a cause only into the message and
 * the stack (as "caused by: ..."), never its fields, so the error's own fields are all there is to drop.
 */
function errorWithoutData(e: unknown): unknown {
  const out = pino.stdSerializers.err(e as Error) as Record<string, unknown> | undefined;
  if (out === null || typeof out !== 'object') return out;
  for (const key of DATA_FIELDS) delete out[key];
  return out;
}

/**
 * A process's logger: JSON lines; an `err` is logged without the data clients attach to it, so
 * logs never hold record values.
 */
export function createLogger(level: string, service = 'nce-ood', destination?: DestinationStream): Logger {
  return pino({ level, base: { service }, serializers: { err: errorWithoutData } }, destination);
}

/**
 * Logs a dependency's outage once: `down` warns (`messages.down`) at the first failure of an
 * outage and is quiet for the rest (a client retrying every second would otherwise log each try),
 * `up` says `messages.up` when it is back.
 */
export function outageLog(logger: Logger, messages: { down: string; up: string }): { down: (reason: string) => void; up: () => void } {
  let out = false;
  return {
    down(reason) {
      if (out) return;
      out = true;
      logger.warn({ reason }, messages.down);
    },
    up() {
      if (out) logger.info(messages.up);
      out = false;
    },
  };
}
