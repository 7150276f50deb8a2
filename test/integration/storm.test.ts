import { readdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Artifact, toArtifact, train } from '../../src/nce';
import { VERSION_PATTERN } from '../../src/store';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/**
 * A short storm in embedded mode: scoring on four connections while the model is deleted and
 * re-created, its versions promoted, retrained, and its dataset replaced, all at once. No answer
 * may be a 5xx, every scoring answer names a version that existed, and afterwards the registry
 * matches the disk.
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
    const { store } = running.service;
    const created = new Set<string>();
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const served: string[] = [];
    const jobs: string[] = [];
    const count = (status: number): void => void statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const call = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<Response> => {
      const res = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': type }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      count(res.status);
      if (res.status >= 500) failures.push(`${method} ${path}: ${res.status} ${await res.clone().text()}`);
      return res;
    };
    await call('PUT', '/v1/datasets/d', csv(1), 'text/csv');
    created.add(await store.save('m', artifact));
    created.add(await store.save('m', artifact));

    const end = Date.now() + STORM_MS;
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const loop = async (every: number, step: () => Promise<void>): Promise<void> => {
      while (Date.now() < end) {
        await step();
        await pause(every);
      }
    };
    const scorer = () =>
      loop(0, async () => {
        const res = await call('POST', '/v1/models/m/score', { records: [{ f0: 0.1, f1: -0.2 }] });
        const body = (await res.json()) as { version?: string };
        if (res.status === 200 && body.version) served.push(body.version);
      });
    await Promise.all([
      scorer(),
      scorer(),
      scorer(),
      scorer(),
      loop(700, async () => {
        await call('DELETE', '/v1/models/m');
        created.add(await store.save('m', artifact));
      }),
      loop(150, async () => {
        const res = await call('GET', '/v1/models/m/versions');
        const versions = res.status === 200 ? ((await res.json()) as { versions: { version: string }[] }).versions : [];
        const pick = versions[Math.floor(Math.random() * versions.length)];
        if (pick) await (await call('POST', `/v1/models/m/versions/${pick.version}/promote`)).arrayBuffer();
      }),
      loop(2000, async () => {
        const res = await call('POST', '/v1/models/m/train', { dataset: 'd', config: { epochs: 1 } });
        if (res.status === 202) jobs.push(((await res.json()) as { jobId: string }).jobId);
      }),
      loop(900, async () => {
        await (await call('PUT', '/v1/datasets/d', csv(Date.now() % 1000), 'text/csv')).arrayBuffer();
      }),
    ]);
    // Every job finishes; the versions they saved existed too.
    for (const id of jobs) {
      for (;;) {
        const job = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { state: string; result?: { version: string } };
        if (job.state === 'completed' || job.state === 'failed') {
          if (job.result) created.add(job.result.version);
          break;
        }
        await pause(100);
      }
    }
    expect(failures).toEqual([]);
    // The storm did reach every kind of answer it is about.
    expect(statuses.get(200)).toBeGreaterThan(100);
    expect(served.length).toBeGreaterThan(100);
    expect(served.filter((v) => !created.has(v))).toEqual([]);
    const onDisk = (await readdir(join(running.dir, 'models', 'm')).catch(() => [] as string[])).filter((f) => VERSION_PATTERN.test(f)).sort();
    expect(await store.versions('m')).toEqual(onDisk);
    const current = await store.currentVersion('m');
    if (current !== null) expect(onDisk).toContain(current);
    expect((await readdir(join(running.dir, 'models', 'm')).catch(() => [] as string[])).filter((f) => f.startsWith('.tmp') || f.startsWith('.CURRENT'))).toEqual([]);
  });
});
