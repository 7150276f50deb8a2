import type { Server } from 'node:http';
import { join } from 'node:path';
import { runStorm } from '../../bench/storm';
import { type Artifact, toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/**
 * A short storm in embedded mode (bench/storm.ts; `npm run bench:chaos` runs a longer one):
 * scoring on four connections while the model is deleted and re-created, its versions promoted,
 * retrained, and its dataset replaced, all at once. No answer may be a 5xx, every scoring answer
 * names a version that existed, and afterwards the registry matches the disk.
 */
const STORM_MS = 20_000;
let running: EmbeddedService;
let server: Server;
let base: string;
let artifact: Artifact;

beforeAll(async () => {
  running = await startEmbedded();
  ({ server, base } = await listen(running.service.app));
  artifact = toArtifact(await train(normalRecords(150, 2, 1), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 150, backend: running.backend });
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  await running.close();
});

const csv = (seed: number): string => ['f0,f1', ...normalRecords(150, 2, seed).map((r) => `${r.f0},${r.f1}`)].join('\n');

describe('storm', () => {
  it('scoring through concurrent deletes, promotes, retrains and dataset replacements: no 5xx, only versions that existed, registry = disk', async () => {
    const report = await runStorm(running.service, base, join(running.dir, 'models'), artifact, csv, STORM_MS);
    expect(report.failures).toEqual([]);
    // The storm did reach every kind of answer it is about.
    expect(report.statuses.get(200)).toBeGreaterThan(100);
    expect(report.served.length).toBeGreaterThan(100);
    expect(report.served.filter((v) => !report.created.has(v))).toEqual([]);
    expect(report.registry).toEqual(report.disk);
    if (report.current !== null) expect(report.disk).toContain(report.current);
    expect(report.leftovers).toEqual([]);
  });
});
