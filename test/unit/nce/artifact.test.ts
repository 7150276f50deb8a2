import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, fingerprintRecords, initBackend, toArtifact, train, type TrainResult } from '../../../src/nce';
import { loadArtifact, saveArtifact } from '../../../src/store';
import { normalRecords } from '../../helpers/data';
import { KERNEL_PARTNER_NOISES } from '../../../src/nce/config';

let result: TrainResult;
let dir: string;

beforeAll(async () => {
  await initBackend();
  const records = normalRecords(300, 3, 1);
  // A product-of-experts model, so the round trip covers the ratio cap too.
  result = await train(records, { epochs: 4, scoreKind: 'productOfExperts' });
  dir = await mkdtemp(join(tmpdir(), 'nce-artifact-'));
  await saveArtifact(dir, toArtifact(result, { datasetFingerprint: fingerprintRecords(records, ['f0', 'f1', 'f2']), datasetRows: 300, backend: 'wasm' }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copyOf(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'nce-artifact-copy-'));
  for (const f of ['manifest.json', 'weights.bin']) await writeFile(join(d, f), await readFile(join(dir, f)));
  return d;
}

describe('model artifact', () => {
  it('a save and load round trip gives identical scores', async () => {
    const probes = normalRecords(50, 3, 5);
    const before = new Detector(result.state);
    const loaded = await loadArtifact(dir);
    const after = new Detector(loaded.state);
    try {
      expect(after.score(probes)).toEqual(before.score(probes));
      expect(loaded.manifest.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(loaded.manifest.dataset.rows).toBe(300);
      expect(loaded.state.ratioCap).toBe(result.state.ratioCap);
      expect(Number.isFinite(loaded.state.ratioCap)).toBe(true);
    } finally {
      before.dispose();
      after.dispose();
    }
  });

  it('a model with kernel partners (the default on small data) keeps them through a save and load, scores identically, and refuses partner weights that do not fit its architecture', async () => {
    const records = normalRecords(300, 3, 2);
    const small = await train(records, { epochs: 3 });
    expect(small.state.partners).toHaveLength(KERNEL_PARTNER_NOISES.length);
    const d = await mkdtemp(join(tmpdir(), 'nce-artifact-partner-'));
    try {
      await saveArtifact(d, toArtifact(small, { datasetFingerprint: 'x', datasetRows: 300, backend: 'wasm' }));
      const loaded = await loadArtifact(d);
      expect(loaded.state.partners?.map((p) => p.noise.fitted.type)).toEqual(KERNEL_PARTNER_NOISES.map((q) => q.type));
      expect(loaded.manifest.weights.layers).toHaveLength(small.state.weights.length * (1 + KERNEL_PARTNER_NOISES.length));
      const before = new Detector(small.state);
      const after = new Detector(loaded.state);
      try {
        const probes = normalRecords(30, 3, 6);
        expect(after.score(probes)).toEqual(before.score(probes));
      } finally {
        before.dispose();
        after.dispose();
      }
      const [p, ...others] = small.state.partners ?? [];
      const wider = { ...p, architecture: { ...p.architecture, hiddenUnits: p.architecture.hiddenUnits.map((u) => u + 1) } };
      await saveArtifact(d, toArtifact({ ...small, state: { ...small.state, partners: [wider, ...others] } }, { datasetFingerprint: 'x', datasetRows: 300, backend: 'wasm' }));
      await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_INVALID', message: expect.stringContaining('layer shapes') });
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('when one byte of weights.bin is flipped, refuses with ARTIFACT_TAMPERED naming the file', async () => {
    const d = await copyOf();
    const w = await readFile(join(d, 'weights.bin'));
    w[10] ^= 0xff;
    await writeFile(join(d, 'weights.bin'), w);
    await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_TAMPERED', message: expect.stringContaining('weights.bin') });
    await rm(d, { recursive: true });
  });

  it('when manifest.json is edited (threshold lowered), refuses with ARTIFACT_TAMPERED naming the file', async () => {
    const d = await copyOf();
    const m = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8'));
    m.calibration.threshold -= 100;
    await writeFile(join(d, 'manifest.json'), JSON.stringify(m));
    await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_TAMPERED', message: expect.stringContaining('manifest.json') });
    await rm(d, { recursive: true });
  });

  it('refuses a manifest whose ratioCap is not a finite number (NaN is written as null) with ARTIFACT_INVALID', async () => {
    const d = await mkdtemp(join(tmpdir(), 'nce-artifact-nan-'));
    await saveArtifact(d, toArtifact({ ...result, state: { ...result.state, ratioCap: NaN } }, { datasetFingerprint: 'x', datasetRows: 300, backend: 'wasm' }));
    await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_INVALID', message: expect.stringContaining('ratioCap') });
    await rm(d, { recursive: true });
  });

  it('when manifest.json is truncated or weights.bin is missing, refuses with ARTIFACT_INVALID', async () => {
    const d = await copyOf();
    const text = await readFile(join(d, 'manifest.json'), 'utf8');
    await writeFile(join(d, 'manifest.json'), text.slice(0, 100));
    await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_INVALID' });
    await writeFile(join(d, 'manifest.json'), text);
    await rm(join(d, 'weights.bin'));
    await expect(loadArtifact(d)).rejects.toMatchObject({ code: 'ARTIFACT_INVALID' });
    await rm(d, { recursive: true });
  });
});
