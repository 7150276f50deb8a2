import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { auroc, toArtifact, train } from '../../src/nce';
import { openRedis, parseCsv, RedisModelStore } from '../../src/store';
import { normalRecords, suffix } from '../helpers/data';
import { swapUnderLoad } from '../helpers/hot-swap';
import { eventually, freePort, ROOT, run, type Running, startApi, startRedis } from '../helpers/processes';

/**
 * Distributed mode as it is deployed: one redis-server of the test's own, two API processes
 * (`npm start` with REDIS_URL) and training workers (`npm run worker`), all separate processes.
 */
const DATA = resolve(ROOT, '..', 'shared', 'datasets', 'thyroid.csv');
const CONFIG = { epochs: 15, seed: 3 };
const LOCK_MS = '2000';
let dir: string;
let redis: Awaited<ReturnType<typeof startRedis>>;
let apiA: Running & { url: string };
let apiB: Running & { url: string };
const workers: Running[] = [];

let workerMetrics = '';

const startWorker = async (): Promise<Running> => {
  const port = await freePort();
  const w = run(process.execPath, ['dist/workers/bullmq-worker.js'], { REDIS_URL: redis.url, JOB_LOCK_MS: LOCK_MS, LOG_LEVEL: 'info', JOB_ATTEMPTS: '3', WORKER_METRICS_PORT: String(port) });
  workerMetrics = `http://127.0.0.1:${port}/metrics`;
  workers.push(w);
  return w;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nce-dist-'));
  redis = await startRedis({ dir });
  [apiA, apiB] = await Promise.all([startApi({ REDIS_URL: redis.url, MAX_BATCH_RECORDS: '2000' }), startApi({ REDIS_URL: redis.url, MAX_BATCH_RECORDS: '2000' })]);
  await startWorker();
});

afterAll(async () => {
  await Promise.all([...workers, apiA, apiB].filter(Boolean).map((p) => p.stop('SIGKILL')));
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field with toMatchObject
type Json = any;

async function call(base: string, method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function finished(base: string, id: string, timeoutMs = 120_000): Promise<Json> {
  return eventually(
    async () => {
      const job = (await call(base, 'GET', `/v1/jobs/${id}`)).body;
      return job.state === 'completed' || job.state === 'failed' ? job : undefined;
    },
    timeoutMs,
    `job ${id}`,
  );
}

function splitCsv(table: ReturnType<typeof parseCsv>, split: string): { features: string[]; csv: string; rows: Record<string, unknown>[] } {
  const features = table.columns.filter((c) => c !== 'label' && c !== 'split');
  const rows = table.records.filter((r) => r.split === split);
  return { features, rows, csv: [features.join(','), ...rows.map((r) => features.map((c) => r[c]).join(','))].join('\n') };
}

/**
 * The thyroid train split uploaded as a dataset of its own and a model of its own training on it
 * through API A with `config`, once `epochs` epochs of it are done.
 */
async function trainingUnderway(name: string, config: object, epochs: number): Promise<{ dataset: string; model: string; jobId: string }> {
  const dataset = `${name}-${suffix()}`;
  const table = parseCsv(await readFile(DATA, 'utf8'));
  expect((await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, splitCsv(table, 'train').csv, 'text/csv')).status).toBe(200);
  const model = `${name}-${suffix()}`;
  const jobId = (await call(apiA.url, 'POST', `/v1/models/${model}/train`, { dataset, config })).body.jobId as string;
  await eventually(async () => ((await call(apiA.url, 'GET', `/v1/jobs/${jobId}`)).body.progress.length >= epochs ? true : undefined), 60_000, `${epochs} epoch(s)`);
  return { dataset, model, jobId };
}

describe('distributed mode: two APIs, workers, one Redis', () => {
  it('trains through either API; both serve the new version within 2 s of completion; AUROC within 0.02 of `nce-ood eval`', async () => {
    const table = parseCsv(await readFile(DATA, 'utf8'));
    const train = splitCsv(table, 'train');
    const dataset = `thyroid-${suffix()}`;
    const put = await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, train.csv, 'text/csv');
    expect(put).toMatchObject({ status: 200, body: { rows: 2263 } });
    // Stored in Redis: the other API sees it.
    expect((await call(apiB.url, 'GET', `/v1/datasets/${dataset}`)).body).toMatchObject({ rows: 2263, columns: train.features });

    const model = `thyroid-${suffix()}`;
    const started = await call(apiB.url, 'POST', `/v1/models/${model}/train`, { dataset, config: CONFIG });
    expect(started.status).toBe(202);
    const job = await finished(apiA.url, started.body.jobId);
    const completedAt = Date.now();
    expect(job).toMatchObject({ state: 'completed', attempts: 1, result: { model, promoted: true } });
    expect(job.progress.length).toBeGreaterThan(0);
    for (const api of [apiA, apiB]) {
      await eventually(async () => ((await call(api.url, 'GET', `/v1/models/${model}`)).body.version === job.result.version ? true : undefined), 2000, 'the new version');
    }
    expect(Date.now() - completedAt).toBeLessThan(2000);

    const test = splitCsv(table, 'test');
    const scores: number[] = [];
    for (let i = 0; i < test.rows.length; i += 1000) {
      const records = test.rows.slice(i, i + 1000).map((r) => Object.fromEntries(test.features.map((c) => [c, r[c]])));
      const res = await call(i % 2000 === 0 ? apiA.url : apiB.url, 'POST', `/v1/models/${model}/score`, { records });
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(job.result.version);
      for (const r of res.body.results) scores.push(-r.score);
    }
    const apiAuroc = auroc(scores, test.rows.map((r) => r.label as number));
    await writeFile(join(dir, 'cfg.json'), JSON.stringify(CONFIG));
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin/nce-ood.js'), 'eval', '--data', DATA, '--config', join(dir, 'cfg.json')], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(Math.abs(apiAuroc - (JSON.parse(cli.stdout).auroc as number))).toBeLessThan(0.02);

    // The worker counts what it trained, on its own /metrics.
    const counted = await (await fetch(workerMetrics)).text();
    expect(Number(/^nce_ood_training_jobs_total\{outcome="completed"\} (\d+)$/m.exec(counted)?.[1])).toBeGreaterThanOrEqual(1);
    expect(counted).toContain('nce_ood_training_duration_seconds_bucket');

    // Rollback through one API is served by the other.
    const again = await finished(apiA.url, (await call(apiA.url, 'POST', `/v1/models/${model}/train`, { dataset, config: { ...CONFIG, epochs: 3 } })).body.jobId);
    expect(again.state).toBe('completed');
    // Either API lists both jobs of the model, newest first, from the queue in Redis.
    const listed = (await call(apiB.url, 'GET', `/v1/jobs?model=${model}&state=completed`)).body.jobs as { id: string; state: string; result: { version: string } }[];
    expect(listed.map((j) => j.id)).toEqual([again.id, job.id]);
    expect(listed[1]!.result.version).toBe(job.result.version);
    expect((await call(apiB.url, 'GET', `/v1/jobs?model=${model}&limit=1`)).body.jobs.map((j: { id: string }) => j.id)).toEqual([again.id]);
    expect((await call(apiA.url, 'POST', `/v1/models/${model}/versions/${job.result.version}/promote`)).status).toBe(200);
    // The replica that answered the promote serves the promoted version at once; the other within
    // its pub/sub delay.
    expect((await call(apiA.url, 'POST', `/v1/models/${model}/score`, { records: [Object.fromEntries(test.features.map((c) => [c, 0]))] })).body.version).toBe(job.result.version);
    await eventually(async () => ((await call(apiB.url, 'GET', `/v1/models/${model}`)).body.version === job.result.version ? true : undefined), 2000, 'the rollback');
  });

  it('while Redis is down the APIs keep scoring with the loaded model and report it; after a restart they reconnect and training works again', async () => {
    const dataset = `outage-${suffix()}`;
    // Points on a ring: clearly unlike the noise, so the quality gate lets every version through.
    await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, { records: Array.from({ length: 400 }, (_, i) => ({ x: Math.cos(i), y: Math.sin(i) })) });
    const model = `outage-${suffix()}`;
    const first = await finished(apiA.url, (await call(apiA.url, 'POST', `/v1/models/${model}/train`, { dataset, config: { epochs: 10 } })).body.jobId);
    expect(first).toMatchObject({ state: 'completed', result: { promoted: true } });
    const score = (api: string) => call(api, 'POST', `/v1/models/${model}/score`, { records: [{ x: 0.6, y: 0.8 }] });
    expect((await score(apiA.url)).status).toBe(200);
    expect((await score(apiB.url)).status).toBe(200);
    const idle = await startWorker();
    await eventually(async () => (idle.output().includes('nce-ood worker ready') ? true : undefined), 15_000, 'the second worker ready');

    await redis.stop();
    // A worker with no job, stopped while Redis is away: it leaves within seconds, not after the
    // whole grace a running job gets, and does not claim it handed a job back.
    const stopping = Date.now();
    await idle.stop('SIGTERM');
    expect(Date.now() - stopping).toBeLessThan(8000);
    expect(idle.child.exitCode).toBe(0);
    expect(idle.output()).not.toContain('active job not finished');
    for (const api of [apiA, apiB]) {
      // Past the model cache's refresh interval, so the registry is asked (and is away).
      await new Promise((r) => setTimeout(r, 1100));
      const scored = await score(api.url);
      expect(scored).toMatchObject({ status: 200, body: { version: first.result.version } });
      // Still in the load balancer: it scores with the model it holds.
      expect(await call(api.url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'degraded', store: 'unreachable' } });
      expect((await call(api.url, 'PUT', `/v1/datasets/${dataset}`, { records: [{ x: 1, y: 2 }] })).body).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
      expect((await call(api.url, 'POST', `/v1/models/${model}/train`, { dataset })).body).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
      // The schedule routes too, on an API that has not used the scheduler before: BullMQ's
      // scheduler, built on first use, would wait for the connection without end.
      expect((await call(api.url, 'GET', `/v1/models/${model}/schedule`)).body).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
      expect((await call(api.url, 'DELETE', `/v1/models/${model}/schedule`)).body).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
    }

    redis = await startRedis({ port: redis.port, dir });
    for (const api of [apiA, apiB]) await eventually(async () => ((await call(api.url, 'GET', '/readyz')).body.status === 'ready' ? true : undefined), 15_000, 'readiness after the restart');
    // The worker said so once, as a warning, and not as an error per reconnect attempt.
    const worker = workers[0] as Running;
    await eventually(async () => (worker.output().includes('Redis is reachable again') ? true : undefined), 15_000, 'the worker back on Redis');
    expect(worker.output()).toContain('Redis is unreachable: the worker waits for it');
    // BullMQ's blocking connection can still time out after the main one is back: a warning, not an error.
    expect(worker.output().split('"msg":"worker error"').length - 1).toBe(0);
    const again = await finished(apiB.url, (await call(apiB.url, 'POST', `/v1/models/${model}/train`, { dataset, config: { epochs: 10, seed: 7 } })).body.jobId);
    expect(again).toMatchObject({ state: 'completed', result: { promoted: true } });
    await eventually(async () => ((await score(apiA.url)).body.version === again.result.version ? true : undefined), 2000, 'the new version after the restart');
  });

  it('a job whose workers are killed with SIGKILL mid-training, twice in turn, is picked up again and completes, with no partial version', async () => {
    const { model, jobId } = await trainingUnderway('killed', { epochs: 40, patience: 40, seed: 5 }, 2);
    await workers[0]?.stop('SIGKILL');
    expect((await call(apiA.url, 'GET', `/v1/models/${model}/versions`)).status).toBe(404);
    // The worker that takes the job over is lost too (as a rolling restart can do): BullMQ's
    // default would fail the job for good here, with attempts left.
    const second = await startWorker();
    await eventually(async () => (second.output().includes('"msg":"training started"') ? true : undefined), 30_000, 'the job taken over');
    await second.stop('SIGKILL');
    const third = await startWorker();
    const job = await finished(apiB.url, jobId);
    // Three runs: the two lost ones count (BullMQ's attemptsMade alone says 1).
    expect(job).toMatchObject({ state: 'completed', attempts: 3, result: { model } });
    // The worker that found the second run lost counted it as retried, and the run it finished.
    const counted = await (await fetch(workerMetrics)).text();
    expect(third.output()).toContain('a training run was lost');
    expect(Number(/^nce_ood_training_jobs_total\{outcome="retried"\} (\d+)$/m.exec(counted)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^nce_ood_training_jobs_total\{outcome="completed"\} (\d+)$/m.exec(counted)?.[1])).toBe(1);
    const versions = (await call(apiB.url, 'GET', `/v1/models/${model}/versions`)).body.versions;
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ version: job.result.version, current: true });
    expect(versions[0].damaged).toBeUndefined();
  });

  it('a worker that stalls past its lock stops its run once it resumes: the run that took the job over finishes it alone, and nothing changes the job after it completed', async () => {
    const other = await startWorker();
    const { model, jobId: id } = await trainingUnderway('stalled', { epochs: 60, patience: 60, seed: 7, kernelPartner: false }, 2);
    const runsIt = (w: Running): boolean => w.output().split('\n').some((line) => line.includes('"msg":"training started"') && line.includes(`"jobId":"${id}"`));
    const runner = workers.find(runsIt) as Running;
    const taker = runner === other ? (workers.find((w) => w !== other && w.child.exitCode === null && w.child.signalCode === null) as Running) : other;
    // The worker and its training process stop (a paused VM, a debugger): its lock expires, and the other worker takes the job.
    const pids = [runner.child.pid as number, ...spawnSync('pgrep', ['-P', String(runner.child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)];
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      await eventually(async () => (runsIt(taker) ? true : undefined), 60_000, 'the job taken over');
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    const job = await finished(apiB.url, id);
    expect(job).toMatchObject({ state: 'completed', result: { model } });
    const progress = job.progress.length;
    await new Promise((r) => setTimeout(r, 4000));
    expect((await call(apiB.url, 'GET', `/v1/jobs/${id}`)).body).toMatchObject({ state: 'completed', finishedAt: job.finishedAt });
    expect((await call(apiB.url, 'GET', `/v1/jobs/${id}`)).body.progress).toHaveLength(progress);
    expect((await call(apiB.url, 'GET', `/v1/models/${model}/versions`)).body.versions).toHaveLength(1);
    // Resumed, the stale run stopped within a renewal and an epoch, instead of training on beside the other.
    expect(runner.output()).toContain('lost its job\'s lock: stopping it');
    // One worker again, as the tests after this one expect.
    await other.stop('SIGKILL');
  }, 180_000);

  it('Redis a read-only replica for a while, a job running: the workers warn once instead of an error per retry, and the job completes', async () => {
    const { model, jobId } = await trainingUnderway('readonly', { epochs: 30, patience: 30, seed: 9, kernelPartner: false }, 1);
    const errors = (w: Running): number => w.output().split('"msg":"worker error"').length - 1;
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const admin = await openRedis(redis.url, 'commands');
    try {
      // A replica of a primary that is not there (port 1): it keeps its data and refuses every write.
      await admin.call('REPLICAOF', '127.0.0.1', '1');
      await new Promise((r) => setTimeout(r, 6000));
      await admin.call('REPLICAOF', 'NO', 'ONE');
    } finally {
      admin.disconnect();
    }
    expect(await finished(apiB.url, jobId)).toMatchObject({ state: 'completed', result: { model } });
    for (const w of live) {
      expect(errors(w)).toBe(0);
      expect(w.output().split('Redis refuses the worker').length - 1).toBeLessThanOrEqual(3);
    }
    expect(live.some((w) => w.output().includes('Redis refuses the worker'))).toBe(true);
  }, 180_000);

  it('Redis refusing writes for a few seconds within the lock (too few replicas), a job running: the run goes on, completes once and saves one version, and the worker takes the next job', async () => {
    // One worker whose lock outlasts the refusal: the refusal must not end the run.
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const w of live) await w.stop('SIGTERM');
    const port = await freePort();
    const worker = run(process.execPath, ['dist/workers/bullmq-worker.js'], { REDIS_URL: redis.url, JOB_LOCK_MS: '30000', LOG_LEVEL: 'info', JOB_ATTEMPTS: '3', WORKER_METRICS_PORT: String(port) });
    try {
      // Long enough that it trains through the refusal: a save refused (the run ended within it) is retried, rightly.
      const { dataset, model, jobId } = await trainingUnderway('noreplicas', { epochs: 200, patience: 200, seed: 11, kernelPartner: false }, 1);
      const admin = await openRedis(redis.url, 'commands');
      try {
        // Every write refused (NOREPLICAS), reads served: the run's progress writes among them.
        await admin.config('SET', 'min-replicas-to-write', '1');
        await new Promise((r) => setTimeout(r, 4000));
      } finally {
        await admin.config('SET', 'min-replicas-to-write', '0');
        admin.disconnect();
      }
      const job = await finished(apiB.url, jobId);
      expect(job).toMatchObject({ state: 'completed', attempts: 1, result: { model } });
      const versions = (await call(apiB.url, 'GET', `/v1/models/${model}/versions`)).body.versions;
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ version: job.result.version, current: true });
      expect(worker.output()).not.toContain('"msg":"worker error"');
      // The training process is free for the next job.
      const next = await call(apiA.url, 'POST', `/v1/models/${model}-next/train`, { dataset, config: { epochs: 2, kernelPartner: false } });
      expect(await finished(apiB.url, next.body.jobId)).toMatchObject({ state: 'completed', attempts: 1 });
    } finally {
      await worker.stop('SIGTERM');
      // Workers as the tests after this one expect.
      await startWorker();
    }
  }, 240_000);

  it('a cron schedule of every 3 seconds fires on the workers and yields a new version', async () => {
    const dataset = `sched-${suffix()}`;
    await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, { records: Array.from({ length: 80 }, (_, i) => ({ x: Math.sin(i), y: Math.cos(i) })) });
    const model = `sched-${suffix()}`;
    const put = await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '*/3 * * * * *', dataset, config: { epochs: 2 } });
    expect(put).toMatchObject({ status: 200, body: { model, cron: '*/3 * * * * *', dataset, nextRun: expect.any(String) } });
    expect((await call(apiB.url, 'GET', `/v1/models/${model}/schedule`)).body).toMatchObject({ cron: '*/3 * * * * *', dataset, config: { epochs: 2 } });
    await eventually(async () => ((await call(apiB.url, 'GET', `/v1/models/${model}/versions`)).body.versions?.length > 0 ? true : undefined), 30_000, 'a scheduled version');
    // The schedule shows its last run, the job its BullMQ job scheduler enqueued.
    const shown = (await call(apiA.url, 'GET', `/v1/models/${model}/schedule`)).body;
    expect(shown).toMatchObject({ timezone: 'UTC', lastRun: { payload: { model, trigger: 'schedule' } } });
    // A run that has started, not the next one BullMQ enqueued ahead (delayed, shown as queued).
    expect(['running', 'completed']).toContain(shown.lastRun.state);
    expect(shown.lastRun.payload.scheduleSince).toBe(put.body.since);
    // Listed with every schedule, on either replica.
    expect((await call(apiB.url, 'GET', '/v1/schedules')).body.schedules).toEqual(expect.arrayContaining([expect.objectContaining({ model, dataset, since: put.body.since, cron: '*/3 * * * * *' })]));
    // Replaced, it keeps its runs.
    const replaced = await call(apiB.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '*/3 * * * * *', dataset, config: { epochs: 3 } });
    expect(replaced.body).toMatchObject({ since: put.body.since, lastRun: { payload: { trigger: 'schedule' } } });
    expect((await call(apiB.url, 'DELETE', `/v1/models/${model}/schedule`)).status).toBe(204);
    expect((await call(apiA.url, 'GET', `/v1/models/${model}/schedule`)).status).toBe(404);
    // Created again after the delete, it has run nothing yet.
    const anew = await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '0 3 * * *', dataset });
    expect(anew.body).toMatchObject({ lastRun: null });
    expect(anew.body.since).not.toBe(put.body.since);
    expect((await call(apiA.url, 'DELETE', `/v1/models/${model}/schedule`)).status).toBe(204);
  });

  it('schedule PUTs racing deletes on the other replica: never a 5xx, and a schedule left after a delete answered is a new one (its own since)', async () => {
    const dataset = `race-${suffix()}`;
    await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, { records: Array.from({ length: 30 }, (_, i) => ({ x: Math.sin(i), y: Math.cos(i) })) });
    const model = `race-${suffix()}`;
    for (let i = 0; i < 25; i++) {
      const first = await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '0 3 * * *', dataset });
      expect(first.status).toBe(200);
      const [put, del] = await Promise.all([
        call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '0 4 * * *', dataset }),
        call(apiB.url, 'DELETE', i % 2 === 0 ? `/v1/models/${model}/schedule` : `/v1/models/${model}`),
      ]);
      expect({ round: i, put: put.status, del: del.status }).toEqual({ round: i, put: 200, del: 204 });
      const after = await call(apiB.url, 'GET', `/v1/models/${model}/schedule`);
      // Left after the delete: the PUT came second, so it made a new schedule.
      if (after.status === 200) expect(after.body.since).not.toBe(first.body.since);
      else expect(after.status).toBe(404);
      await call(apiA.url, 'DELETE', `/v1/models/${model}/schedule`);
    }
  });

  it('hot swap under load: two versions promoted back and forth every 40 ms through one API while 8 clients score both: only 200s, each naming one of the two', async () => {
    const connection = await openRedis(redis.url, 'commands');
    try {
      const store = new RedisModelStore(connection);
      const trained = async (seed: number) => toArtifact(await train(normalRecords(300, 3, seed), { epochs: 2, seed }), { datasetFingerprint: String(seed), datasetRows: 300, backend: 'wasm' });
      const v1 = await store.save('m', await trained(1));
      const v2 = await store.save('m', await trained(2));
      const { answers, wrong, promotes } = await swapUnderLoad([apiA.url, apiB.url], apiA.url, v1, v2, 20_000);
      expect(wrong.slice(0, 5)).toEqual([]);
      expect(answers.get(`200 ${v1}`)).toBeGreaterThan(50);
      expect(answers.get(`200 ${v2}`)).toBeGreaterThan(50);
      expect(promotes).toBeGreaterThan(100);
    } finally {
      await connection.quit();
    }
  }, 60_000);

  it('a job cancelled through the other API stops at the end of its epoch on the worker; one cancelled while queued fails as the worker takes it; neither saves a version', async () => {
    const dataset = `cancel-${suffix()}`;
    await call(apiA.url, 'PUT', `/v1/datasets/${dataset}`, { records: normalRecords(300, 2, 4) });
    const long = { epochs: 1000, patience: 1000, kernelPartner: false };
    const [m1, m2] = [`c1-${suffix()}`, `c2-${suffix()}`];
    const first = (await call(apiA.url, 'POST', `/v1/models/${m1}/train`, { dataset, config: long })).body.jobId as string;
    const second = (await call(apiA.url, 'POST', `/v1/models/${m2}/train`, { dataset, config: long })).body.jobId as string;
    await eventually(async () => ((await call(apiB.url, 'GET', `/v1/jobs/${first}`)).body.progress.length > 0 ? true : undefined), 60_000, 'the first job to train');
    // Only one worker, with one job at a time: the second waits.
    const waiting = await call(apiB.url, 'DELETE', `/v1/jobs/${second}`);
    expect(waiting).toMatchObject({ status: 202, body: { id: second, state: 'queued' } });
    const asked = Date.now();
    expect((await call(apiB.url, 'DELETE', `/v1/jobs/${first}`)).status).toBe(202);
    const stopped = await finished(apiA.url, first, 30_000);
    expect(Date.now() - asked).toBeLessThan(15_000);
    expect(stopped).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'JOB_CANCELLED', message: expect.stringContaining('while it trained') } });
    expect(await finished(apiA.url, second, 30_000)).toMatchObject({ state: 'failed', attempts: 1, progress: [], error: { code: 'JOB_CANCELLED', message: expect.stringContaining('while it waited') } });
    for (const m of [m1, m2]) expect((await call(apiB.url, 'GET', `/v1/models/${m}/versions`)).status).toBe(404);
    expect((await call(apiA.url, 'DELETE', `/v1/jobs/${first}`)).body).toMatchObject({ status: 409, code: 'JOB_FINISHED' });

    // A schedule's next run, months away (a delayed job): cancelled, it runs at once and fails
    // without training, rather than waiting past its mark's week.
    const scheduled = `c3-${suffix()}`;
    expect((await call(apiA.url, 'PUT', `/v1/models/${scheduled}/schedule`, { cron: '0 0 1 1 *', dataset })).status).toBe(200);
    const next = await eventually(async () => (await call(apiB.url, 'GET', `/v1/jobs?model=${scheduled}&state=queued`)).body.jobs[0], 10_000, 'the schedule\'s next run');
    expect((await call(apiB.url, 'DELETE', `/v1/jobs/${next.id}`)).status).toBe(202);
    expect(await finished(apiA.url, next.id, 30_000)).toMatchObject({ state: 'failed', progress: [], error: { code: 'JOB_CANCELLED' } });
    await call(apiA.url, 'DELETE', `/v1/models/${scheduled}/schedule`);
  });

  it('bad input gets the documented problem; a job with a missing dataset fails at once without retries; the APIs keep serving', async () => {
    expect((await call(apiA.url, 'POST', '/v1/models/m/train', { dataset: 'nope' })).body).toMatchObject({ status: 404, code: 'DATASET_NOT_FOUND', pointer: '/dataset' });
    expect((await call(apiA.url, 'PUT', '/v1/datasets/bad', 'a,b\n1,2\n3\n', 'text/csv')).body).toMatchObject({ status: 400, code: 'MALFORMED_BODY' });
    expect((await call(apiB.url, 'PUT', '/v1/datasets/bad', { records: [{ a: 1 }, { a: [2] }] })).body).toMatchObject({ code: 'INVALID_RECORD', pointer: '/records/1/a' });
    expect((await call(apiB.url, 'POST', '/v1/models/nothing-here/score', { records: [{ a: 1 }] })).body).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
    for (const id of ['no-such-job', 'events', 'wait', 'id', 'meta']) expect((await call(apiB.url, 'GET', `/v1/jobs/${id}`)).status).toBe(404);

    // A schedule naming a dataset that does not exist is refused at once; one whose dataset is
    // deleted afterwards gets a job that fails as bad input, once.
    const model = `orphan-${suffix()}`;
    expect((await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '*/2 * * * * *', dataset: 'never-uploaded' })).body).toMatchObject({ status: 404, pointer: '/dataset' });
    // A cron BullMQ's parser refuses is a 400 naming it, not a 500 from the scheduler.
    expect((await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '0 0 15W * *', dataset: 'never-uploaded' })).body).toMatchObject({ status: 400, pointer: '/cron', detail: expect.stringContaining('15W') });
    const doomed = `doomed-${suffix()}`;
    await call(apiA.url, 'PUT', `/v1/datasets/${doomed}`, { records: Array.from({ length: 30 }, (_, i) => ({ a: i })) });
    expect((await call(apiA.url, 'PUT', `/v1/models/${model}/schedule`, { cron: '*/2 * * * * *', dataset: doomed })).status).toBe(200);
    expect((await call(apiA.url, 'DELETE', `/v1/datasets/${doomed}`)).status).toBe(204);
    const failed = await eventually(
      async () => (await call(apiB.url, 'GET', `/v1/jobs?model=${model}&state=failed&limit=1`)).body.jobs[0],
      20_000,
      'the failed scheduled job',
    );
    expect(failed).toMatchObject({ attempts: 1, error: { code: 'DATASET_NOT_FOUND' } });
    await call(apiA.url, 'DELETE', `/v1/models/${model}/schedule`);
    for (const api of [apiA, apiB]) expect((await call(api.url, 'GET', '/readyz')).status).toBe(200);
  });
});
