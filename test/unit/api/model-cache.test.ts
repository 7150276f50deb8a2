import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ModelCache } from '../../../src/api';
import { initBackend, liveTensors, toArtifact, train } from '../../../src/nce';
import { FsModelStore } from '../../../src/store';
import { normalRecords } from '../../helpers/data';

let dir: string;
let store: FsModelStore;

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-cache-'));
  store = new FsModelStore(dir);
  const artifact = toArtifact(await train(normalRecords(100, 2, 1), { epochs: 1 }), { datasetFingerprint: 'x', datasetRows: 100, backend });
  for (const name of ['a', 'b', 'c']) await store.save(name, artifact);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ModelCache', () => {
  it('with maxModels 2, loading a third model unloads the least recently used one, which loads again when asked for', async () => {
    const gone: string[] = [];
    const cache = new ModelCache(store, pino({ level: 'silent' }), () => undefined, (name) => gone.push(name), 2);
    try {
      await cache.get('a');
      await cache.get('b');
      const tensors = liveTensors();
      cache.fresh('a'); // a is now the most recently used
      await cache.get('c');
      expect(cache.loaded().sort()).toEqual(['a', 'c']);
      expect(gone).toEqual(['b']);
      // b's tensors went with it: c's came, b's left.
      expect(liveTensors()).toBe(tensors);
      expect((await cache.get('b')).name).toBe('b');
      expect(cache.loaded().sort()).toEqual(['b', 'c']);
      expect(gone).toEqual(['b', 'a']);
    } finally {
      cache.dispose();
    }
  });
});
