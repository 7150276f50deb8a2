import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, toArtifact, train, type TrainResult } from '../../../src/nce';
import { gateFailure } from '../../../src/queue';
import { FsModelStore } from '../../../src/store';
import { normalRecords } from '../../helpers/data';

let result: TrainResult;
let dir: string;
const gate = { minValAuc: 0.6, maxAucDrop: 0.05 };
const withAuc = (valAuc: number) => toArtifact({ ...result, training: { ...result.training, valAuc } }, { datasetFingerprint: 'x', datasetRows: 100, backend: 'wasm' });

beforeAll(async () => {
  await initBackend();
  result = await train(normalRecords(100, 2, 1), { epochs: 2 });
  dir = await mkdtemp(join(tmpdir(), 'nce-gate-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gateFailure', () => {
  it('passes a first version above the minimum and refuses one below it, saying why', async () => {
    const store = new FsModelStore(dir);
    expect(await gateFailure(store, 'a', withAuc(0.8), gate)).toBeNull();
    expect(await gateFailure(store, 'a', withAuc(0.55), gate)).toMatch(/0\.5500 is below the gate's minimum 0\.6/);
  });

  it('refuses a retrained version more than maxAucDrop below the current one; the store keeps it as a candidate', async () => {
    const store = new FsModelStore(dir);
    const v1 = await store.save('b', withAuc(0.9));
    const reason = await gateFailure(store, 'b', withAuc(0.8), gate);
    expect(reason).toMatch(/more than 0\.05 below the current version's 0\.9000/);
    const v2 = await store.save('b', withAuc(0.8), { candidate: reason as string });
    expect(await store.currentVersion('b')).toBe(v1);
    expect(await store.candidateReason('b', v2)).toBe(reason);
    expect(await gateFailure(store, 'b', withAuc(0.88), gate)).toBeNull();
    await store.promote('b', v2);
    expect(await store.currentVersion('b')).toBe(v2);
  });
});
