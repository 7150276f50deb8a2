/**
 * The storm: scoring on four connections while the model is deleted and re-created, its versions
 * promoted, retrained, and its dataset replaced, all at once, against an embedded service. The
 * test suite runs it for 20 s (test/integration/storm.test.ts); `npm run bench:chaos` for longer.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Service } from '../src/compose';
import type { Artifact } from '../src/nce';
import { VERSION_PATTERN } from '../src/store';

/** What a storm saw. */
export interface StormReport {
  /** Answers per HTTP status. */
  statuses: Map<number, number>;
  /** Every 5xx, with its body. */
  failures: string[];
  /** Versions named by 200 scoring answers. */
  served: string[];
  /** Versions that existed at some point: saved here or by a completed job. */
  created: Set<string>;
  /** Versions in the registry afterwards, and the version folders on disk. */
  registry: string[];
  disk: string[];
  /** The current version afterwards (null when the storm ended on a delete), and leftover temporary files. */
  current: string | null;
  leftovers: string[];
}

/**
 * Runs a storm of `ms` against `service` (listening at `base`, models under `modelsDir`) on model
 * `m` and dataset `d`; `csv(seed)` gives the dataset's CSV, `artifact` a version to save.
 */
export async function runStorm(service: Service, base: string, modelsDir: string, artifact: Artifact, csv: (seed: number) => string, ms: number): Promise<StormReport> {
  const { store } = service;
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

  const end = Date.now() + ms;
  const pause = (t: number) => new Promise((r) => setTimeout(r, t));
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
  const files = await readdir(join(modelsDir, 'm')).catch(() => [] as string[]);
  return {
    statuses,
    failures,
    served,
    created,
    registry: await store.versions('m'),
    disk: files.filter((f) => VERSION_PATTERN.test(f)).sort(),
    current: await store.currentVersion('m'),
    leftovers: files.filter((f) => f.startsWith('.tmp') || f.startsWith('.CURRENT')),
  };
}
