import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { holdModel, ModelCache } from '../../../src/serving';
import { type Artifact, initBackend, liveTensors, modelFootprint, toArtifact, train } from '../../../src/nce';
import { FsModelStore } from '../../../src/store';
import { normalRecords } from '../../helpers/data';

let dir: string;
let store: FsModelStore;
let artifact: Artifact;

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-cache-'));
  store = new FsModelStore(dir);
  artifact = toArtifact(await train(normalRecords(100, 2, 1), { epochs: 1 }), { datasetFingerprint: 'x', datasetRows: 100, backend });
  for (const name of ['a', 'b', 'c']) await store.save(name, artifact);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A store of its own in a new folder with one version of model m saved, and a logger whose lines are kept. */
async function ownStore(prefix: string): Promise<{ root: string; own: FsModelStore; good: string; lines: { msg: string }[]; logger: pino.Logger }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const own = new FsModelStore(root);
  const good = await own.save('m', artifact);
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
  return { root, own, good, lines, logger };
}

/** The shared store, with `currentVersion` answered by `answer` (which may ask the store's own). */
function answering(answer: (name: string, own: (name: string) => Promise<string | null>) => Promise<string | null>): FsModelStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'currentVersion') return (n: string) => answer(n, (m) => target.currentVersion(m));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('ModelCache', () => {
  it('with room for the memory of two models, loading a third unloads the least recently used one; with room for less than one, the one asked for stays', async () => {
    const one = modelFootprint((await store.load('a', (await store.currentVersion('a')) as string)).state);
    expect(one).toBeGreaterThan(0);
    const gone: string[] = [];
    const cache = new ModelCache(store, pino({ level: 'silent' }), () => undefined, (name, why) => gone.push(`${name} ${why}`), 64, () => undefined, 2.5 * one);
    try {
      await cache.get('a');
      await cache.get('b');
      cache.fresh('a');
      await cache.get('c');
      expect(cache.loaded().sort()).toEqual(['a', 'c']);
      expect(gone).toEqual(['b evicted']);
    } finally {
      cache.dispose();
    }
    const tiny = new ModelCache(store, pino({ level: 'silent' }), () => undefined, () => undefined, 64, () => undefined, one / 2);
    try {
      await tiny.get('a');
      expect(tiny.loaded()).toEqual(['a']);
      expect((await tiny.get('b')).name).toBe('b');
      expect(tiny.loaded()).toEqual(['b']);
    } finally {
      tiny.dispose();
    }
  });

  it('a model whose versions are all candidates says so, and how to promote one, instead of "does not exist"', async () => {
    await store.save('held', artifact, { candidate: 'QUALITY_GATE: worse than its noise alone' });
    const cache = new ModelCache(store, pino({ level: 'silent' }));
    try {
      await expect(cache.get('held')).rejects.toMatchObject({
        code: 'MODEL_NOT_FOUND',
        message: 'model "held" has no current version: its version is a candidate the quality gate held back (GET /v1/models/held/versions says why); promote one with POST /v1/models/held/versions/{version}/promote',
      });
      await expect(cache.get('nobody')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: 'model "nobody" does not exist or has no version' });
    } finally {
      cache.dispose();
    }
  });

  it('with maxModels 2, loading a third model unloads the least recently used one, which loads again when asked for', async () => {
    const gone: string[] = [];
    const cache = new ModelCache(store, pino({ level: 'silent' }), () => undefined, (name, why) => gone.push(`${name} ${why}`), 2);
    try {
      await cache.get('a');
      await cache.get('b');
      const tensors = liveTensors();
      cache.fresh('a'); // a is now the most recently used
      await cache.get('c');
      expect(cache.loaded().sort()).toEqual(['a', 'c']);
      expect(gone).toEqual(['b evicted']);
      // b's tensors went with it: c's came, b's left.
      expect(liveTensors()).toBe(tensors);
      expect((await cache.get('b')).name).toBe('b');
      expect(cache.loaded().sort()).toEqual(['b', 'c']);
      expect(gone).toEqual(['b evicted', 'a evicted']);
    } finally {
      cache.dispose();
    }
  });

  it('a model held across an await keeps scoring after a swap retires it, and its tensors go with the last hold', async () => {
    const cache = new ModelCache(store, pino({ level: 'silent' }));
    try {
      const old = await cache.get('a');
      const tensorsWithOne = liveTensors();
      const release = holdModel(old);
      await store.save('a', artifact);
      cache.announce('a');
      const next = await cache.get('a');
      expect(next.version).not.toBe(old.version);
      expect(old.retired).toBe(true);
      // Still whole: a batch large enough for the backend's forward pass scores as before.
      const records = normalRecords(old.detector.hostForwardRows + 50, 2, 4);
      expect(old.detector.score(records)).toHaveLength(records.length);
      release();
      release();
      expect(liveTensors()).toBe(tensorsWithOne);
      expect(next.detector.score(records)).toHaveLength(records.length);
    } finally {
      cache.dispose();
    }
  });

  it('a promote announced while a load of an earlier one runs is served once that load ends, not left behind', async () => {
    const v1 = await store.currentVersion('b');
    const v2 = await store.save('b', artifact);
    const v3 = await store.save('b', artifact);
    // The registry says v3 is current, but the first load reads v2 (a promote that landed while it
    // loaded): the second announcement must not be lost.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let reads = 0;
    const slow = answering(async (n, own) => {
      reads++;
      if (reads === 2) {
        await gate;
        return v2;
      }
      return own(n);
    });
    const swaps: string[] = [];
    const cache = new ModelCache(slow, pino({ level: 'silent' }), (m) => swaps.push(m.version));
    try {
      await store.promote('b', v1 as string);
      expect((await cache.get('b')).version).toBe(v1);
      await store.promote('b', v3);
      cache.announce('b'); // this load reads v2 (held at the gate)
      cache.announce('b'); // announced during that load
      release();
      for (let i = 0; i < 100 && cache.fresh('b')?.version !== v3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(cache.fresh('b')?.version).toBe(v3);
      expect(swaps).toEqual([v1, v2, v3]);
    } finally {
      cache.dispose();
    }
  });

  it('during a registry outage serves the loaded version and says so once, not at every refresh, and once more when it is back', async () => {
    let down = false;
    const flaky = answering((n, own) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : own(n)));
    const lines: { msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
    const cache = new ModelCache(flaky, logger);
    try {
      const loaded = await cache.get('c');
      down = true;
      for (let i = 0; i < 5; i++) {
        cache.announce('c');
        expect((await cache.get('c')).version).toBe(loaded.version);
      }
      down = false;
      cache.announce('c');
      await cache.get('c');
      // Known away until then, the registry is asked again in the background.
      for (let i = 0; i < 50 && !lines.some((l) => l.msg === 'model registry reachable again'); i++) await new Promise((r) => setTimeout(r, 20));
      const said = lines.map((l) => l.msg).filter((m) => m.startsWith('model registry'));
      expect(said).toEqual(['model registry unreachable: serving the loaded versions', 'model registry reachable again']);
    } finally {
      cache.dispose();
    }
  });

  it('a store that fails while a version loads is an outage, not a refused version: 503 MODEL_UNAVAILABLE naming the registry, a warning, and the next request loads it', async () => {
    let down = true;
    const failing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'load') return (n: string, v: string) => (down ? Promise.reject(new Error('Connection is closed.')) : target.load(n, v));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
    const cache = new ModelCache(failing, logger);
    try {
      await expect(cache.get('a')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringContaining('the model registry is unreachable') });
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(lines.map((l) => l.msg)).toContain('model registry unreachable: serving the loaded versions');
      down = false;
      expect((await cache.get('a')).version).toBe(await store.currentVersion('a'));
    } finally {
      cache.dispose();
    }
  });

  it('watching, follows the store without scoring or announcements: a deleted model goes, a new version comes, and the eviction order stays that of use', async () => {
    const gone: string[] = [];
    const swaps: string[] = [];
    const root = await mkdtemp(join(tmpdir(), 'nce-cache-watch-'));
    const own = new FsModelStore(root);
    for (const name of ['a', 'b', 'c']) await own.save(name, artifact);
    const cache = new ModelCache(own, pino({ level: 'silent' }), (m) => swaps.push(`${m.name} ${m.version}`), (name, why) => gone.push(`${name} ${why}`), 2);
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      const sleep = (ms: number): Promise<unknown> => new Promise((r) => setTimeout(r, ms));
      await cache.get('a');
      await sleep(100);
      cache.watch(300);
      await sleep(100);
      await cache.get('b');
      // The first check (300 ms on) finds only a unchecked for 300 ms: a is asked about again, b
      // not. Asked, a is not used: it stays the least recently used, and goes when c comes.
      await sleep(300);
      await cache.get('c');
      expect(gone).toEqual(['a evicted']);
      // Deleted behind the cache's back (another replica, a registry come back empty): unloaded.
      await own.delete('b');
      await until(() => gone.includes('b deleted'));
      expect(cache.loaded()).toEqual(['c']);
      // Evicted, a is still served (its metrics stay) until it is deleted too: then it goes.
      await own.delete('a');
      await until(() => gone.includes('a deleted'));
      expect(gone).toEqual(['a evicted', 'b deleted', 'a deleted']);
      // A new version promoted elsewhere, its announcement lost: swapped in all the same.
      const version = await own.save('c', artifact);
      await until(() => swaps.includes(`c ${version}`));
      expect(cache.fresh('c')?.version).toBe(version);
    } finally {
      cache.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('serves a loaded model at once when its periodic check is due, even from a registry that hangs; a model announced as changed waits for its load', async () => {
    let mode: 'up' | 'hangs' | 'slow' = 'up';
    // Hangs: every answer takes 400 ms to fail, as a registry that hangs until a timeout; slow:
    // every answer takes 400 ms.
    const delayed = (answer: () => Promise<string | null>) => new Promise<string | null>((resolve, reject) => setTimeout(() => answer().then(resolve, reject), 400));
    const slow = answering((n, own) => (mode === 'up' ? own(n) : delayed(() => (mode === 'slow' ? own(n) : Promise.reject(new Error('Command timed out'))))));
    const cache = new ModelCache(slow, pino({ level: 'silent' }));
    try {
      const loaded = await cache.get('a');
      mode = 'hangs';
      // Due for its check: served at once, asked in the background, the first request too.
      for (let round = 0; round < 2; round++) {
        await new Promise((r) => setTimeout(r, 1100));
        const t = Date.now();
        expect((await cache.get('a')).version).toBe(loaded.version);
        expect(Date.now() - t).toBeLessThan(200);
      }
    } finally {
      cache.dispose();
    }
    // Announced as changed, with the registry reachable: the request waits for the store's answer.
    mode = 'up';
    const fresh = new ModelCache(slow, pino({ level: 'silent' }));
    try {
      await fresh.get('a');
      mode = 'slow';
      fresh.announce('a');
      const t = Date.now();
      await fresh.get('a');
      expect(Date.now() - t).toBeGreaterThanOrEqual(350);
    } finally {
      fresh.dispose();
    }
  });

  it('a new model announced (trained here or on another replica) is loaded at once while the cache has room, so its gauges are there before it is scored; never beyond MODEL_CACHE_MAX', async () => {
    const swapped: string[] = [];
    const cache = new ModelCache(store, pino({ level: 'silent' }), (served) => void swapped.push(served.name), () => undefined, 2);
    const settled = async (count: number): Promise<void> => {
      for (let i = 0; i < 500 && cache.loaded().length < count; i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      cache.announce('a');
      await settled(1);
      expect(cache.loaded()).toEqual(['a']);
      expect(swapped).toEqual(['a']);
      cache.announce('b');
      await settled(2);
      expect(cache.loaded().sort()).toEqual(['a', 'b']);
      // Full: a third is loaded when first scored, not announced.
      cache.announce('c');
      await new Promise((r) => setTimeout(r, 300));
      expect(cache.loaded().sort()).toEqual(['a', 'b']);
      // A model announced that does not exist (deleted meanwhile) loads nothing and throws nothing.
      const roomy = new ModelCache(store, pino({ level: 'silent' }));
      roomy.announce('no-such-model');
      await new Promise((r) => setTimeout(r, 200));
      expect(roomy.loaded()).toEqual([]);
      roomy.dispose();
    } finally {
      cache.dispose();
    }
  });

  it('a delete announced while a background check is under way: the next request waits for that check and the load after it, and finds the model gone', async () => {
    const name = `gone-${Date.now()}`;
    await store.save(name, artifact);
    let slow = false;
    // A registry that answers after 300 ms what it holds then, as during a Redis stall.
    const slowly = answering((n, own) => (slow ? new Promise<void>((r) => setTimeout(r, 300)).then(() => own(n)) : own(n)));
    const cache = new ModelCache(slowly, pino({ level: 'silent' }));
    try {
      await cache.get(name);
      slow = true;
      await new Promise((r) => setTimeout(r, 1100));
      // Due: served at once, its check under way.
      await cache.get(name);
      await store.delete(name);
      // What a DELETE does before it answers 204.
      cache.announce(name);
      await expect(cache.get(name)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    } finally {
      cache.dispose();
    }
  });

  it('a current version whose artifact is damaged is refused and logged once, not at every check; the loaded version serves on', async () => {
    const { root, own, good, lines, logger } = await ownStore('nce-cache-damaged-');
    const cache = new ModelCache(own, logger);
    try {
      await cache.get('m');
      const bad = await own.save('m', artifact);
      const folder = join(root, 'm', bad);
      expect(await readdir(folder)).toContain('weights.bin');
      await writeFile(join(folder, 'weights.bin'), Buffer.alloc(64, 7));
      cache.watch(100);
      await new Promise((r) => setTimeout(r, 800));
      expect((await cache.get('m')).version).toBe(good);
      expect(lines.filter((l) => l.msg === 'model version refused')).toHaveLength(1);
    } finally {
      cache.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a damaged current version with nothing older loaded (after a restart) is refused at every request, but read and logged once; a new version loads', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nce-cache-damaged-alone-'));
    const own = new FsModelStore(root);
    const bad = await own.save('m', artifact);
    await writeFile(join(root, 'm', bad, 'weights.bin'), Buffer.alloc(64, 7));
    const lines: { msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
    let loads = 0;
    const counting = new Proxy(own, {
      get(target, prop) {
        if (prop === 'load') return (n: string, v: string) => (loads++, target.load(n, v));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const cache = new ModelCache(counting, logger);
    try {
      for (let i = 0; i < 5; i++) await expect(cache.get('m')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringContaining('do not match their checksums') });
      expect(loads).toBe(1);
      expect(lines.filter((l) => l.msg === 'model version refused')).toHaveLength(1);
      const good = await own.save('m', artifact);
      expect((await cache.get('m')).version).toBe(good);
    } finally {
      cache.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a current-version pointer edited by hand: one naming a version that is not there is logged once while the loaded version serves on; one naming none says so, not that the gate held them back', async () => {
    const { root, own, good, lines, logger } = await ownStore('nce-cache-pointer-');
    const cache = new ModelCache(own, logger);
    try {
      await cache.get('m');
      await writeFile(join(root, 'm', 'CURRENT'), '20261207T000000000Z-000000');
      cache.watch(100);
      await new Promise((r) => setTimeout(r, 800));
      expect((await cache.get('m')).version).toBe(good);
      expect(lines.filter((l) => l.msg === 'model version refused')).toHaveLength(1);
      await writeFile(join(root, 'm', 'CURRENT'), 'garbage-version');
      await new Promise((r) => setTimeout(r, 300));
      await expect(cache.get('m')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining("the registry's pointer to its current version names none of its 1 version") });
    } finally {
      cache.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a model evicted while a check of it waited on the store is loaded again, not handed out disposed', async () => {
    let slow = false;
    const store2 = answering(async (n, own) => {
      if (slow && n === 'a') await new Promise((r) => setTimeout(r, 300));
      return own(n);
    });
    const cache = new ModelCache(store2, pino({ level: 'silent' }), () => undefined, () => undefined, 2);
    try {
      await cache.get('a');
      await cache.get('b');
      slow = true;
      // The watch's check of a starts and waits on the store (not a use: a stays least recently used).
      cache.watch(100);
      await new Promise((r) => setTimeout(r, 150));
      // Meanwhile c comes in and evicts a: its detector is disposed.
      await cache.get('c');
      expect(cache.loaded()).not.toContain('a');
      const a = await cache.get('a');
      expect(a.retired).toBe(false);
      expect(cache.loaded()).toContain('a');
      expect(a.detector.scoreRows(a.detector.encodeRecords(Array.from({ length: 200 }, () => ({ f0: 0, f1: 0 })))).score).toHaveLength(200);
    } finally {
      cache.dispose();
    }
  });
});
