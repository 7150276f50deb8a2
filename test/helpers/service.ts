import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { type BackendName, initBackend } from '../../src/nce';

/** A service in embedded mode over a temporary directory of its own. */
export interface EmbeddedService {
  service: Service;
  /** The directory: models in `models/`, datasets in `data/`. */
  dir: string;
  backend: BackendName;
  /** Closes the service and removes its directory. */
  close(): Promise<void>;
}

/**
 * Starts a service in embedded mode over a fresh temporary directory: `env` on top of MODELS_DIR
 * and DATASETS_DIR in that directory, logging nothing unless given a logger.
 */
export async function startEmbedded(env: Record<string, string> = {}, logger: Logger = pino({ level: 'silent' })): Promise<EmbeddedService> {
  const backend = await initBackend();
  const dir = await mkdtemp(join(tmpdir(), 'nce-test-'));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  try {
    const service = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data'), ...env }), logger, backend);
    return {
      service,
      dir,
      backend,
      close: async () => {
        await service.close();
        await removeDir();
      },
    };
  } catch (e: unknown) {
    await removeDir();
    throw e;
  }
}

/** Serves `app` on a free loopback port, once it listens: the server (to close) and its base URL. */
export async function listen(app: Express): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Polls a job through the API every 100 ms until it completed or failed (at most 60 s). */
export async function jobFinished<T extends { state: string }>(app: Express, id: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const job = (await request(app).get(`/v1/jobs/${id}`)).body as T;
    if (job.state === 'completed' || job.state === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}
