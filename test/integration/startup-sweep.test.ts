import { mkdir, mkdtemp, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { composeEmbedded } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { initBackend, toArtifact, train } from '../../src/nce';
import { claimFolder, FsModelStore, SERVICE_LOCK } from '../../src/store';
import { normalRecords } from '../helpers/data';
import { eventually } from '../helpers/processes';

/** What a kill -9 leaves in the embedded mode's folders is swept at start-up, and nothing else. */
describe('start-up sweep', () => {
  it('removes temporary version folders, pointer files, renamed-away models and atomic-write temp files; keeps every model and dataset; counts and logs them', async () => {
    const backend = await initBackend();
    const dir = await mkdtemp(join(tmpdir(), 'nce-sweep-'));
    const models = join(dir, 'models');
    const data = join(dir, 'data');
    try {
      const version = await new FsModelStore(models).save('m', toArtifact(await train(normalRecords(100, 2, 1), { epochs: 1 }), { datasetFingerprint: 'x', datasetRows: 100, backend }));
      await mkdir(join(models, 'm', `.tmp-${version.replace(/.$/, '0')}`), { recursive: true });
      await writeFile(join(models, 'm', `.tmp-${version.replace(/.$/, '0')}`, 'weights.bin'), Buffer.alloc(512 * 1024));
      await writeFile(join(models, 'm', `.CURRENT-${version}-abc123`), `${version}\n`);
      await mkdir(join(models, '.deleted-old-abc123', 'v'), { recursive: true });
      await mkdir(join(models, '.jobs'), { recursive: true });
      await writeFile(join(models, '.jobs', 'job1.json.0123456789ab.tmp'), '{"id":');
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'd.json'), JSON.stringify({ columns: ['f0'], updatedAt: new Date().toISOString(), records: [{ f0: 1 }] }));
      await writeFile(join(data, 'd.json.a1b2c3d4e5f6.tmp'), 'partial');

      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
      const service = await composeEmbedded(loadSettings({ MODELS_DIR: models, DATASETS_DIR: data }), logger, backend);
      try {
        expect((await readdir(join(models, 'm'))).sort()).toEqual([version, 'CURRENT']);
        expect((await readdir(models)).filter((f) => f.startsWith('.deleted'))).toEqual([]);
        expect(await readdir(join(models, '.jobs'))).not.toContain('job1.json.0123456789ab.tmp');
        // And the folder's claim (see the next test).
        expect((await readdir(data)).sort()).toEqual([SERVICE_LOCK, 'd.json']);
        expect(lines.join('')).toContain('removed what an earlier crash left behind');
        const metrics = (await request(service.app).get('/metrics')).text;
        expect(metrics).toMatch(/^nce_ood_leftovers_removed_total 5$/m);
        expect((await request(service.app).post('/v1/models/m/score').send({ records: [{ f0: 0, f1: 0 }] })).body.version).toBe(version);
      } finally {
        await service.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A claim on `dir` whose callbacks log what befalls it, in order ('lost', 'unclaimed', 'retaken',
 * 'taken'), and `seen`, which waits until an event has happened `count` times.
 */
async function watchedClaim(dir: string): Promise<{ events: string[]; release: () => Promise<void>; seen: (event: string, count?: number, ms?: number) => Promise<void> }> {
  const events: string[] = [];
  const release = await claimFolder('MODELS_DIR', dir, () => events.push('lost'), () => events.push('unclaimed'), () => events.push('retaken'), () => events.push('taken'));
  const seen = async (event: string, count = 1, ms = 10_000): Promise<void> => {
    await eventually(async () => (events.filter((e) => e === event).length >= count ? true : undefined), ms, `the claim ${event} (${count})`);
  };
  return { events, release, seen };
}

/** The embedded mode's folders belong to one service process: a second would sweep the first one's writes in progress and run its jobs twice. */
describe('the folders of an embedded service', () => {
  it('are refused to a second service, by name, while the first runs; free once it stops; taken over from a process that died without letting go', async () => {
    const backend = await initBackend();
    const dir = await mkdtemp(join(tmpdir(), 'nce-claim-'));
    const silent = pino({ level: 'silent' });
    const settings = (models: string, data: string) => loadSettings({ MODELS_DIR: join(dir, models), DATASETS_DIR: join(dir, data), SCORING_THREADS: '0' });
    try {
      const first = await composeEmbedded(settings('models', 'data'), silent, backend);
      let firstOpen = true;
      try {
        await expect(composeEmbedded(settings('models', 'other-data'), silent, backend)).rejects.toThrow(/^MODELS_DIR ".*models" is in use by another nce-ood service process/);
        // Its own models, the first one's datasets: refused too, and the models folder it claimed is let go.
        await expect(composeEmbedded(settings('other-models', 'data'), silent, backend)).rejects.toThrow(/^DATASETS_DIR ".*data" is in use by another nce-ood service process/);
        await first.close();
        firstOpen = false;
        const started = Date.now();
        const second = await composeEmbedded(settings('other-models', 'data'), silent, backend);
        await second.close();
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        if (firstOpen) await first.close();
      }
      // A claim nobody renews (its process was killed) is taken over.
      await mkdir(join(dir, 'models', SERVICE_LOCK));
      const longAgo = new Date(Date.now() - 60_000);
      await utimes(join(dir, 'models', SERVICE_LOCK), longAgo, longAgo);
      const started = Date.now();
      // Both settings naming one folder: claimed once.
      const again = await composeEmbedded(settings('models', 'models'), silent, backend);
      await again.close();
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a claim lost (it could not be renewed) is taken again once the folder allows; one another process took meanwhile is said, and left to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-claim-'));
    const { check, lock } = await import('proper-lockfile');
    const lockfile = { lockfilePath: join(dir, SERVICE_LOCK), stale: 10_000 };
    const { events, release, seen } = await watchedClaim(dir);
    try {
      // The lock folder removed under it: the claim cannot be renewed, and is taken again.
      await rm(join(dir, SERVICE_LOCK), { recursive: true });
      await seen('retaken');
      expect(events).toEqual(['lost', 'retaken']);
      expect(await check(dir, lockfile)).toBe(true);
      // Lost again, and another process claims the folder first: this one is told, and takes nothing back.
      await rm(join(dir, SERVICE_LOCK), { recursive: true });
      await seen('lost', 2);
      // Another process renews its claim (every 5 s here, proper-lockfile's default): its mtime moves.
      const other = await lock(dir, lockfile);
      await seen('taken', 1, 20_000);
      expect(events).toEqual(['lost', 'retaken', 'lost', 'taken']);
      await new Promise((r) => setTimeout(r, 3000));
      expect(events).toHaveLength(4);
      await other();
    } finally {
      await release().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a claim lost while its folder was away a few seconds (an unmounted volume) is taken again, not taken for another process\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-claim-'));
    await mkdir(join(dir, 'models'));
    const { events, release, seen } = await watchedClaim(join(dir, 'models'));
    try {
      await rename(join(dir, 'models'), join(dir, 'away'));
      await seen('lost');
      await new Promise((r) => setTimeout(r, 3000));
      // Back with its lock as this process left it, not yet stale: held until it is, then taken again.
      await rename(join(dir, 'away'), join(dir, 'models'));
      await seen('retaken', 1, 20_000);
      expect(events).toEqual(['lost', 'retaken']);
    } finally {
      await release().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('a claim released at shutdown while lost releases nothing, and is not taken again after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-claim-'));
    const { events, release, seen } = await watchedClaim(dir);
    try {
      await rm(join(dir, SERVICE_LOCK), { recursive: true });
      await seen('lost');
      await expect(release()).resolves.toBeUndefined();
      await new Promise((r) => setTimeout(r, 4000));
      expect(events).toEqual(['lost']);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a folder that cannot take the claim (it refuses writes) is served without one, said at once, not after waiting for a claim', async () => {
    const unclaimed: Error[] = [];
    const started = Date.now();
    // Writes refused in /sys (EPERM), as on a read-only volume: such a store starts degraded, its models scoring.
    const release = await claimFolder('MODELS_DIR', '/sys', () => undefined, (e) => unclaimed.push(e));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(unclaimed.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EPERM']);
    await expect(release()).resolves.toBeUndefined();
  });
});
