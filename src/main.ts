import pino from 'pino';
import { composeService } from './compose';
import { settingsOrExit } from './config';
import { initBackend } from './nce';

/** Composition root: settings -> backend -> service (embedded, or distributed with REDIS_URL); serves until SIGTERM. */
async function main(): Promise<void> {
  const settings = settingsOrExit();
  const logger = pino({ level: settings.LOG_LEVEL, base: { service: 'nce-ood' } });
  if (!settings.API_KEYS?.length) logger.warn('API_KEYS is not set: the API is open to anyone who can reach it');
  const backend = await initBackend(settings.TF_BACKEND);
  const service = await composeService(settings, logger, backend);
  const server = service.app.listen(settings.PORT, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : settings.PORT;
    logger.info({ port, backend, mode: service.mode }, 'nce-ood listening');
  });
  // Longer than the idle timeout of common load balancers (60 s), so a client never reuses a
  // keep-alive connection the server is closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const stop = (): void => {
    logger.info('shutting down');
    server.close(() => {
      void service.close().then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
