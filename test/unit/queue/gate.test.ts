import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, SCORE_FLOOR, toArtifact, train, type TrainResult } from '../../../src/nce';
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
  it('refuses a version whose held-out loss is above its noise alone, whatever its AUC; a model at the noise passes', async () => {
    const store = new FsModelStore(dir);
    const at = (valLoss: number, valLossNoise: number | undefined) =>
      toArtifact({ ...result, training: { ...result.training, valAuc: 0.9, valLoss, valLossNoise } }, { datasetFingerprint: 'x', datasetRows: 100, backend: 'wasm' });
    expect(await gateFailure(store, 'c', at(0.52, 0.5).manifest, gate)).toMatch(/held-out NCE loss 0\.5200 is above its noise's alone \(0\.5000\)/);
    expect(await gateFailure(store, 'c', at(Number.NaN, 0.5).manifest, gate)).toMatch(/held-out NCE loss NaN/);
    expect(await gateFailure(store, 'c', at(0.505, 0.5).manifest, gate)).toBeNull();
    expect(await gateFailure(store, 'c', at(0.6, undefined).manifest, gate)).toBeNull();
    // nu = 4: a held-out record has probability 1/5 of being real under p = q, a noise row 4/5.
    expect(result.training.valLossNoise).toBeCloseTo((Math.log(5) + 4 * Math.log(1.25)) / 5, 6);
  });

  it('refuses, with or without a gate, a version whose threshold is at the score floor: it could never flag a record', async () => {
    const store = new FsModelStore(dir);
    const floored = toArtifact({ ...result, state: { ...result.state, calibration: { ...result.state.calibration, threshold: SCORE_FLOOR } } }, { datasetFingerprint: 'x', datasetRows: 100, backend: 'wasm' });
    for (const g of [gate, undefined]) expect(await gateFailure(store, 'f', floored.manifest, g)).toMatch(/threshold is at the score floor \(-1000000\)/);
    expect(await gateFailure(store, 'f', toArtifact(result, { datasetFingerprint: 'x', datasetRows: 100, backend: 'wasm' }).manifest, undefined)).toBeNull();
  });

  it('passes a first version above the minimum and refuses one below it, saying why', async () => {
    const store = new FsModelStore(dir);
    expect(await gateFailure(store, 'a', withAuc(0.8).manifest, gate)).toBeNull();
    expect(await gateFailure(store, 'a', withAuc(0.55).manifest, gate)).toMatch(/0\.5500 is below the gate's minimum 0\.6/);
  });

  it('refuses a retrained version more than maxAucDrop below the current one; the store keeps it as a candidate', async () => {
    const store = new FsModelStore(dir);
    const v1 = await store.save('b', withAuc(0.9));
    const reason = await gateFailure(store, 'b', withAuc(0.8).manifest, gate);
    expect(reason).toMatch(/more than 0\.05 below the current version's 0\.9000/);
    const v2 = await store.save('b', withAuc(0.8), { candidate: reason as string });
    expect(await store.currentVersion('b')).toBe(v1);
    expect(await store.candidateReason('b', v2)).toBe(reason);
    expect(await gateFailure(store, 'b', withAuc(0.88).manifest, gate)).toBeNull();
    await store.promote('b', v2);
    expect(await store.currentVersion('b')).toBe(v2);
  });
});
