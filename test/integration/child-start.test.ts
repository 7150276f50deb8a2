import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { failChildStartOnExit } from '../../workers/child-start';
import { startRedis } from '../helpers/processes';

describe('a sandboxed training process killed while it starts', () => {
  it('fails that run, and the next one runs in a fresh process (it hung for ever, the worker with it)', async () => {
    const server = await startRedis();
    const dir = await mkdtemp(join(tmpdir(), 'nce-child-start-'));
    const marker = join(dir, 'killed-once');
    // The first process to load it dies by SIGKILL (as an OOM kill does) before it is ready; later ones run the job.
    const processor = join(dir, 'processor.js');
    await writeFile(
      processor,
      `const fs = require('fs');\nif (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); process.kill(process.pid, 'SIGKILL'); }\nmodule.exports = async () => 'trained';\n`,
    );
    const connection = { url: server.url, maxRetriesPerRequest: null };
    const queue = new Queue('child-start', { connection });
    const events = new QueueEvents('child-start', { connection });
    failChildStartOnExit();
    const worker = new Worker('child-start', processor, { connection, concurrency: 1, useWorkerThreads: false });
    try {
      await events.waitUntilReady();
      const job = await queue.add('train', {}, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
      await expect(job.waitUntilFinished(events, 20_000)).resolves.toBe('trained');
      expect(existsSync(marker)).toBe(true);
      const done = await queue.getJob(job.id as string);
      // Two runs: the one whose process died as it started, failed, then the one that trained.
      expect(done?.attemptsMade).toBe(2);
      expect((done?.stacktrace ?? []).join('\n')).toContain('Unexpected exit code: null signal: SIGKILL (the training process exited while it started)');
      expect(await done?.getState()).toBe('completed');
    } finally {
      await worker.close(true);
      await events.close();
      await queue.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
