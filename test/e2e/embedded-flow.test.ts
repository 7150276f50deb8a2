import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import type { Service } from '../../src/compose';
import { auroc } from '../../src/nce';
import { parseCsv } from '../../src/store';
import { suffix } from '../helpers/data';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

const ROOT = resolve(__dirname, '../..');
const DATA = resolve(ROOT, '..', 'shared', 'datasets', 'thyroid.csv');
const CONFIG = { epochs: 15, seed: 3 };
let running: EmbeddedService;
let dir: string;
let app: Express;
let service: Service;

beforeAll(async () => {
  running = await startEmbedded({ MAX_BATCH_RECORDS: '1000' });
  ({ service, dir } = running);
  app = service.app;
});

afterAll(async () => {
  await running.close();
});

async function waitForJob(id: string): Promise<{ state: string; result?: { version: string }; error?: { code: string }; progress: unknown[] }> {
  for (let i = 0; i < 600; i++) {
    const job = (await request(app).get(`/v1/jobs/${id}`)).body;
    if (job.state === 'completed' || job.state === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

describe('embedded mode, end to end', () => {
  it('upload a train split as CSV, train, poll the job, score the test split: AUROC within 0.02 of `nce-ood eval`', async () => {
    const table = parseCsv(await readFile(DATA, 'utf8'));
    const features = table.columns.filter((c) => c !== 'label' && c !== 'split');
    const trainCsv = [features.join(','), ...table.records.filter((r) => r.split === 'train').map((r) => features.map((c) => r[c]).join(','))].join('\n');
    const dataset = `thyroid-${suffix()}`;
    const put = await request(app).put(`/v1/datasets/${dataset}`).set('content-type', 'text/csv').send(trainCsv);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: dataset, columns: features, rows: 2263 });

    const model = `thyroid-${suffix()}`;
    const started = await request(app).post(`/v1/models/${model}/train`).send({ dataset, config: CONFIG });
    expect(started.status).toBe(202);
    // The event loop is free while the worker thread trains: scoring-side routes still answer.
    expect((await request(app).get('/healthz')).status).toBe(200);
    const job = await waitForJob(started.body.jobId);
    expect(job.state).toBe('completed');
    expect(job.progress.length).toBeGreaterThan(0);
    // The job list finds it by model and state, without its per-epoch progress.
    const listed = await request(app).get(`/v1/jobs?model=${model}&state=completed`);
    expect(listed.body.jobs).toEqual([{ ...job, progress: [] }]);
    expect((await request(app).get(`/v1/jobs?model=${model}&state=failed`)).body.jobs).toEqual([]);
    expect((await request(app).get('/v1/jobs?state=done')).body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', pointer: '/state' });
    expect((await request(app).get('/v1/jobs?limit=0')).body).toMatchObject({ status: 400, pointer: '/limit' });
    expect((await request(app).get('/v1/jobs?limit=0')).body.detail).toMatch(/^query parameter "limit": /);
    expect((await request(app).get('/v1/jobs?foo=1')).body).toMatchObject({ status: 400, detail: 'unknown query parameter "foo" (this route takes model, state, limit)', pointer: '/foo' });
    // Digits only: a number spelt otherwise is not taken for one.
    for (const odd of ['1e3', '0x10', '%2050']) expect((await request(app).get(`/v1/jobs?limit=${odd}`)).body).toMatchObject({ status: 400, pointer: '/limit' });
    expect((await request(app).get('/v1/jobs?limit=1&limit=2')).body).toMatchObject({ status: 400, detail: 'query parameter "limit" is given 2 times; give it once', pointer: '/limit' });

    const test = table.records.filter((r) => r.split === 'test');
    const scores: number[] = [];
    for (let i = 0; i < test.length; i += 1000) {
      const records = test.slice(i, i + 1000).map((r) => Object.fromEntries(features.map((c) => [c, r[c]])));
      const res = await request(app).post(`/v1/models/${model}/score`).send({ records });
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(job.result?.version);
      for (const r of res.body.results) scores.push(-r.score);
    }
    const apiAuroc = auroc(scores, test.map((r) => r.label as number));

    await writeFile(join(dir, 'cfg.json'), JSON.stringify(CONFIG));
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin/nce-ood.js'), 'eval', '--data', DATA, '--config', join(dir, 'cfg.json')], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    const cliAuroc = JSON.parse(cli.stdout).auroc as number;
    expect(Math.abs(apiAuroc - cliAuroc)).toBeLessThan(0.02);
  });

  it('a cron schedule of every 2 seconds fires and yields a new version; a bad cron is a 400 naming it', async () => {
    await request(app).put('/v1/datasets/sched').send({ records: Array.from({ length: 60 }, (_, i) => ({ x: Math.sin(i), y: Math.cos(i) })) });
    const bad = await request(app).put('/v1/models/sched/schedule').send({ cron: 'every minute', dataset: 'sched' });
    expect(bad.body).toMatchObject({ status: 400, pointer: '/cron', detail: expect.stringContaining('has 2 fields; a cron has 5') });
    const never = await request(app).put('/v1/models/sched/schedule').send({ cron: '0 3 30 2 *', dataset: 'sched' });
    expect(never.body).toMatchObject({ status: 400, pointer: '/cron', detail: expect.stringContaining('never fires') });
    const badZone = await request(app).put('/v1/models/sched/schedule').send({ cron: '0 3 * * *', dataset: 'sched', timezone: 'Mars/Olympus' });
    expect(badZone.body).toMatchObject({ status: 400, pointer: '/timezone' });
    // The next run is at 03:00 on Berlin's clocks (01:00 or 02:00 UTC), not at 03:00 UTC.
    const berlin = await request(app).put('/v1/models/sched/schedule').send({ cron: '0 3 * * *', dataset: 'sched', timezone: 'Europe/Berlin' });
    expect(berlin.body).toMatchObject({ timezone: 'Europe/Berlin', lastRun: null });
    const next = new Date(berlin.body.nextRun as string);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('03:00');
    expect([1, 2]).toContain(next.getUTCHours());
    const put = await request(app).put('/v1/models/sched/schedule').send({ cron: '*/2 * * * * *', dataset: 'sched', config: { epochs: 2 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ timezone: 'UTC', nextRun: expect.any(String) });
    // A new version, current or kept as a candidate by the quality gate.
    let versions: string[] = [];
    for (let i = 0; i < 150 && versions.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      versions = await service.store.versions('sched');
    }
    expect(versions.length).toBeGreaterThan(0);
    // The schedule shows its last run: the job it enqueued, with its outcome.
    const shown = (await request(app).get('/v1/models/sched/schedule')).body;
    expect(shown).toMatchObject({ cron: '*/2 * * * * *', dataset: 'sched', lastRun: { payload: { trigger: 'schedule', model: 'sched' } } });
    expect(['running', 'completed']).toContain(shown.lastRun.state);
    // Its dataset deleted: the next run fails, and the schedule shows that failure.
    await request(app).put('/v1/datasets/sched-gone').send({ records: Array.from({ length: 60 }, (_, i) => ({ x: Math.sin(i), y: Math.cos(i) })) }).expect(200);
    await request(app).put('/v1/models/sched/schedule').send({ cron: '*/2 * * * * *', dataset: 'sched-gone', config: { epochs: 2 } }).expect(200);
    expect((await request(app).delete('/v1/datasets/sched-gone')).status).toBe(204);
    let last: { state: string; error?: { code: string } } | null = null;
    for (let i = 0; i < 100 && last?.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = (await request(app).get('/v1/models/sched/schedule')).body.lastRun;
    }
    expect(last).toMatchObject({ state: 'failed', error: { code: 'DATASET_NOT_FOUND' } });
    // Listed with every schedule, by model.
    const listed = (await request(app).get('/v1/schedules')).body.schedules as { model: string; dataset: string; since: string }[];
    expect(listed.find((s) => s.model === 'sched')).toMatchObject({ dataset: 'sched-gone', since: berlin.body.since });
    // Replaced three times, it is the schedule created first: its runs are its runs.
    expect((await request(app).get('/v1/models/sched/schedule')).body.since).toBe(berlin.body.since);
    expect((await request(app).delete('/v1/models/sched/schedule')).status).toBe(204);
    expect((await request(app).get('/v1/models/sched/schedule')).status).toBe(404);
    expect(((await request(app).get('/v1/schedules')).body.schedules as { model: string }[]).map((s) => s.model)).not.toContain('sched');
    // A schedule created after the delete has run nothing yet: not the failure of the one deleted.
    const anew = await request(app).put('/v1/models/sched/schedule').send({ cron: '0 3 * * *', dataset: 'sched' });
    expect(anew.body).toMatchObject({ lastRun: null, since: expect.any(String) });
    expect(Date.parse(anew.body.since as string)).toBeGreaterThan(Date.parse(berlin.body.since as string));
    // A schedule that outlived a delete of its model (a PUT raced the delete, or a full store kept
    // it) starts anew at its next PUT: its runs count from its since, which was before the deletion.
    await service.store.delete('sched');
    const deletedAt = (await service.store.deletedAt('sched'))?.getTime() ?? 0;
    const kept = await request(app).put('/v1/models/sched/schedule').send({ cron: '0 4 * * *', dataset: 'sched' });
    expect(Date.parse(kept.body.since as string)).toBeGreaterThan(deletedAt);
    expect((await request(app).delete('/v1/models/sched/schedule')).status).toBe(204);
  });

  it('deleting a model during its first training answers 204, and the job saves nothing (MODEL_DELETED)', async () => {
    await request(app).put('/v1/datasets/first').send({ records: Array.from({ length: 60 }, (_, i) => ({ x: Math.sin(i), y: Math.cos(i) })) }).expect(200);
    const job = await request(app).post('/v1/models/first/train').send({ dataset: 'first', config: { epochs: 2 } });
    expect(job.status).toBe(202);
    expect((await request(app).delete('/v1/models/first')).status).toBe(204);
    expect(await waitForJob(job.body.jobId as string)).toMatchObject({ state: 'failed', error: { code: 'MODEL_DELETED' } });
    expect(await service.store.versions('first')).toEqual([]);
    expect((await request(app).get('/v1/models/first')).status).toBe(404);
  });

  it('deleting a model deletes its schedule, which would otherwise train it back; a schedule alone is a model to delete', async () => {
    await request(app).put('/v1/models/gone/schedule').send({ cron: '0 3 * * *', dataset: 'sched' }).expect(200);
    expect((await request(app).delete('/v1/models/gone')).status).toBe(204);
    expect((await request(app).get('/v1/models/gone/schedule')).status).toBe(404);
    expect((await request(app).delete('/v1/models/gone')).status).toBe(404);
  });

  it('bad uploads and training requests get the documented status and code, and the service keeps serving', async () => {
    const ragged = await request(app).put('/v1/datasets/bad').set('content-type', 'text/csv').send('a,b\n1,2\n3\n');
    expect(ragged.status).toBe(400);
    expect(ragged.body).toMatchObject({ code: 'MALFORMED_BODY', detail: expect.stringContaining('body:3') });
    const ndjson = await request(app).put('/v1/datasets/bad').set('content-type', 'application/x-ndjson').send('{"a":1}\n{"a":"x","b":2}\n');
    expect(ndjson.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/records/1/b' });
    const wrongType = await request(app).put('/v1/datasets/bad').send({ records: [{ a: 1 }, { a: [2] }] });
    expect(wrongType.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/records/1/a' });
    expect((await request(app).put('/v1/datasets/..%2Fetc').set('content-type', 'text/csv').send('a\n1\n')).status).toBe(400);
    expect((await request(app).get('/v1/datasets/bad')).status).toBe(404);

    const noData = await request(app).post('/v1/models/m1/train').send({ dataset: 'missing' });
    expect(noData.body).toMatchObject({ status: 404, code: 'DATASET_NOT_FOUND', pointer: '/dataset' });
    const noDataSchedule = await request(app).put('/v1/models/m1/schedule').send({ cron: '0 3 * * *', dataset: 'missing' });
    expect(noDataSchedule.body).toMatchObject({ status: 404, code: 'DATASET_NOT_FOUND', pointer: '/dataset' });
    // Too few records to train on: refused at once, not by a job that fails later.
    await request(app).put('/v1/datasets/tiny').send({ records: Array.from({ length: 10 }, (_, i) => ({ x: i })) });
    const tiny = await request(app).post('/v1/models/m1/train').send({ dataset: 'tiny' });
    expect(tiny.headers['content-type']).toContain('application/problem+json');
    expect(tiny.body).toMatchObject({ status: 422, code: 'INSUFFICIENT_DATA', pointer: '/dataset', detail: expect.stringContaining('10 records') });
    expect((await request(app).put('/v1/models/m1/schedule').send({ cron: '0 3 * * *', dataset: 'tiny' })).body).toMatchObject({ status: 422, code: 'INSUFFICIENT_DATA' });
    expect((await request(app).get('/v1/models/m1/schedule')).status).toBe(404);
    await request(app).put('/v1/datasets/small').send({ records: Array.from({ length: 30 }, (_, i) => ({ x: i, y: i % 3 })) });
    const badConfig = await request(app).post('/v1/models/m1/train').send({ dataset: 'small', config: { noiseRatio: 0 } });
    expect(badConfig.body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', pointer: '/config/noiseRatio' });

    const append = await request(app).post('/v1/datasets/small/records?maxRows=25').send({ records: [{ x: 99, y: 0 }] });
    expect(append.body).toMatchObject({ rows: 25 });
    expect((await request(app).post('/v1/datasets/small/records').send({ records: [{ x: 1 }] })).body).toMatchObject({ code: 'INVALID_RECORD', pointer: '/records/0/y' });
    expect((await request(app).get('/v1/datasets')).body.datasets.map((d: { name: string }) => d.name)).toContain('small');
    expect((await request(app).delete('/v1/datasets/small')).status).toBe(204);
    expect((await request(app).get('/healthz')).status).toBe(200);
  });
});
