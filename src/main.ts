import { readFileSync } from 'node:fs';
import { connectionCap, createHttpServer, drainConnections, FILES_KEPT, openFilesLimit } from './api';
import { composeService } from './compose';
import { settingsOrExit } from './config';
import { createLogger } from './logger';
import { initBackend, messageOf } from './nce';

/** A file's text, or null where it cannot be read. */
function readFileOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** How long past SHUTDOWN_MS a shutdown may run before the process exits regardless. */
const SHUTDOWN_OVERRUN_MS = 5000;

/** Composition root: settings -> backend -> service (embedded, or distributed with REDIS_URL); serves until SIGTERM. */
async function main(): Promise<void> {
  const settings = settingsOrExit();
  const logger = createLogger(settings.LOG_LEVEL);
  if (!settings.API_KEYS?.length) logger.warn('API_KEYS is not set: the API is open to anyone who can reach it');
  const backend = await initBackend(settings.TF_BACKEND);
  const service = await composeService(settings, logger, backend);
  const filesLimit = openFilesLimit(readFileOrNull('/proc/self/limits'));
  const maxConnections = connectionCap(settings.HTTP_MAX_CONNECTIONS, filesLimit);
  if (maxConnections < settings.HTTP_MAX_CONNECTIONS) {
    logger.warn(
      { HTTP_MAX_CONNECTIONS: settings.HTTP_MAX_CONNECTIONS, openFilesLimit: filesLimit, maxConnections },
      `HTTP_MAX_CONNECTIONS is more than the open-files limit leaves for connections: at most ${maxConnections} are held; raise the limit (ulimit -n) above HTTP_MAX_CONNECTIONS + ${FILES_KEPT}, or lower HTTP_MAX_CONNECTIONS`,
    );
  }
  const server = createHttpServer(service.app, {
    headersTimeoutMs: settings.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: settings.HTTP_REQUEST_TIMEOUT_MS,
    maxConnections,
  });
  // A port already in use, or any listen error: one clear line and a non-zero exit, never a
  // process that runs without listening.
  server.once('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ err: err.message, port: settings.PORT }, 'cannot listen');
    process.stderr.write(`nce-ood: cannot listen on port ${settings.PORT}: ${err.code === 'EADDRINUSE' ? 'the port is already in use' : err.message}\n`);
    process.exit(1);
  });
  server.listen(settings.PORT, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : settings.PORT;
    logger.info({ port, backend, mode: service.mode }, 'nce-ood listening');
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ drainMs: settings.SHUTDOWN_MS }, 'shutting down');
    // One budget for everything: a training job gets what the requests left of it.
    const closeBy = Date.now() + settings.SHUTDOWN_MS;
    // Idle keep-alive connections would hold close() open: they go now, and each busy one after
    // its answer (Connection: close); requests in flight get SHUTDOWN_MS to finish, then
    // whatever is still open (a slow upload) is cut.
    const deadline = setTimeout(() => {
      logger.warn('shutdown: closing connections still open after the drain time');
      server.closeAllConnections();
    }, settings.SHUTDOWN_MS);
    deadline.unref();
    // Whatever the service waits on at close (a Redis that stopped answering), the process goes.
    setTimeout(() => {
      logger.error({ afterMs: settings.SHUTDOWN_MS + SHUTDOWN_OVERRUN_MS }, 'shutdown: still not done: exiting');
      process.exit(1);
    }, settings.SHUTDOWN_MS + SHUTDOWN_OVERRUN_MS).unref();
    server.close(() => {
      clearTimeout(deadline);
      service.close(Math.max(0, closeBy - Date.now())).then(
        // 1 where the service stopped itself for a failure (see composeEmbedded's folder claims).
        () => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0),
        (e: unknown) => {
          logger.warn({ err: messageOf(e) }, 'shutdown: releasing the service failed');
          process.exit(1);
        },
      );
    });
    drainConnections(server);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  // A models or datasets folder that cannot be used, Redis refusing the first connection: one
  // line naming the cause and a non-zero exit, not a stack trace.
  process.stderr.write(`nce-ood: cannot start: ${messageOf(e)}\n`);
  process.exit(1);
});
