import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, run } from '../helpers/processes';

/** Start-up fails loudly: a port already taken is one clear line and a non-zero exit, not a process that never listens. */
describe('start-up', () => {
  it('on a port already in use, the service exits non-zero saying so', async () => {
    const port = await freePort();
    const taken: Server = createServer();
    await new Promise<void>((ok) => taken.listen(port, ok));
    const dir = await mkdtemp(join(tmpdir(), 'nce-startup-'));
    try {
      const service = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { PORT: String(port), MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), LOG_LEVEL: 'silent' });
      const code = await new Promise<number | null>((ok) => service.child.once('exit', (c) => ok(c)));
      expect(code).toBe(1);
      expect(service.output()).toContain(`nce-ood: cannot listen on port ${port}: the port is already in use`);
    } finally {
      await new Promise((ok) => taken.close(ok));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
