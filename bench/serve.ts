/**
 * Serving benchmark: scoring throughput of the real service against a plain Express 5 endpoint
 * (same body parsing, same response shape, no model work), single records and 1,000-record batches,
 * 16 connections on loopback; then single-record p99 latency idle and while a model trains.
 *
 *   npm run bench:serve [-- --seconds 10] [--rounds 3]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parseCsv } from '../src/store';
import { send, start, waitForJob } from './serve-utils';

const root = resolve(__dirname, '..', '..');
const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' } } });
const seconds = Number(values.seconds ?? 10);
const rounds = Number(values.rounds ?? 3);
const DATA = resolve(root, '..', 'shared', 'datasets', 'shuttle.csv');

async function load(url: string, body: string, connections: number, duration: number): Promise<autocannon.Result> {
  return autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration });
}

/** p99 latency in ms of single requests sent one after another for `duration` seconds. */
async function sequentialP99(url: string, body: string, duration: number): Promise<{ p99: number; n: number }> {
  const times: number[] = [];
  const end = Date.now() + duration * 1000;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p99: times[Math.floor(times.length * 0.99)], n: times.length };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nce-serve-'));
  const table = parseCsv(readFileSync(DATA, 'utf8'));
  const features = table.columns.filter((c) => c !== 'label' && c !== 'split');
  const rows = table.records.filter((r) => r.split === 'train');
  const csv = [features.join(','), ...rows.map((r) => features.map((c) => r[c]).join(','))].join('\n');
  const record = Object.fromEntries(features.map((c) => [c, rows[0][c]]));
  const single = JSON.stringify({ records: [record] });
  const batch = JSON.stringify({ records: rows.slice(0, 1000).map((r) => Object.fromEntries(features.map((c) => [c, r[c]]))) });

  const service = await start(join(root, 'dist', 'src', 'main.js'), {
    MODELS_DIR: join(dir, 'models'),
    DATASETS_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    MAX_DATASET_BYTES: String(256 << 20),
  }, '/healthz');
  const plain = await start(join(root, 'dist', 'bench', 'plain-server.js'), {}, '/');
  const base = `http://127.0.0.1:${service.port}`;
  try {
    await send('PUT', `${base}/v1/datasets/shuttle`, csv, 'text/csv');
    const job = (await send('POST', `${base}/v1/models/shuttle/train`, { dataset: 'shuttle', config: { epochs: 5 } })) as { jobId: string };
    await waitForJob(base, job.jobId);
    const scoreUrl = `${base}/v1/models/shuttle/score`;
    const plainUrl = `http://127.0.0.1:${plain.port}/v1/models/shuttle/score`;
    await load(scoreUrl, single, 16, 2);
    await load(plainUrl, single, 16, 2);

    console.log(`serving benchmark: ${rounds} rounds of ${seconds}s per server, alternating, 16 connections, loopback, shuttle model (${features.length} features)`);
    let errors = 0;
    for (const [what, body, unit] of [
      ['single record', single, 1],
      ['1,000 records', batch, 1000],
    ] as const) {
      // Alternating rounds, median ratio: one run of each is at the mercy of a GC pause or a busy core.
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const ours = await load(scoreUrl, body, 16, seconds);
        const theirs = await load(plainUrl, body, 16, seconds);
        errors += ours.non2xx + ours.errors;
        ratios.push(ours.requests.average / theirs.requests.average);
        const rate = (x: autocannon.Result): string => `${(x.requests.average * unit).toFixed(0)} ${unit === 1 ? 'req/s' : 'records/s'} (p99 ${x.latency.p99} ms)`;
        console.log(`${what}   round ${r + 1}: nce-ood ${rate(ours)}   plain ${rate(theirs)}   ratio ${ratios[r].toFixed(2)}`);
      }
      ratios.sort((a, b) => a - b);
      console.log(`${what}   median ratio ${ratios[Math.floor(rounds / 2)].toFixed(2)} (range ${ratios[0].toFixed(2)}-${ratios[rounds - 1].toFixed(2)})`);
    }
    console.log(`non-2xx or errors during scoring runs: ${errors}`);

    const idle = await sequentialP99(scoreUrl, single, seconds);
    const training = (await send('POST', `${base}/v1/models/shuttle-retrain/train`, { dataset: 'shuttle' })) as { jobId: string };
    await new Promise((r) => setTimeout(r, 2000));
    const busy = await sequentialP99(scoreUrl, single, seconds);
    const state = ((await (await fetch(`${base}/v1/jobs/${training.jobId}`)).json()) as { state: string }).state;
    console.log(
      `single-record p99 latency, one request at a time: idle ${idle.p99.toFixed(2)} ms (${idle.n} requests), while training ${busy.p99.toFixed(2)} ms (${busy.n} requests; job ${state} at the end), ratio ${(busy.p99 / idle.p99).toFixed(2)}`,
    );
  } finally {
    service.child.kill('SIGKILL');
    plain.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
