import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../src/nce/random';
import { freePort, ROOT } from '../helpers/processes';

let dir: string;
let service: ChildProcess;
let port: number;
let logs = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nce-service-'));
  const rng = createRng(8);
  const rows = ['amount,channel'];
  for (let i = 0; i < 300; i++) rows.push(`${(50 + 10 * rng.normal()).toFixed(2)},${rng.uniform() < 0.7 ? 'web' : 'store'}`);
  await writeFile(join(dir, 'ref.csv'), rows.join('\n') + '\n');
  await writeFile(join(dir, 'fast.json'), '{"epochs": 5}');
  const env = { ...process.env, MODELS_DIR: join(dir, 'models'), LOG_LEVEL: 'info' };
  const t = spawnSync(process.execPath, [join(ROOT, 'bin/nce-ood.js'), 'train', '--data', join(dir, 'ref.csv'), '--model', 'payments', '--config', join(dir, 'fast.json')], {
    encoding: 'utf8',
    env,
  });
  expect(t.status).toBe(0);
  port = await freePort();
  service = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], { env: { ...env, PORT: String(port) } });
  service.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
  for (let i = 0; i < 100 && !logs.includes('nce-ood listening'); i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  if (service.exitCode === null) service.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('the service (npm start) in embedded mode', () => {
  it('serves a model trained with `nce-ood train --model`, answers bad input with problem+json, logs no record values, and stops on SIGTERM', async () => {
    const url = `http://127.0.0.1:${port}`;
    // Before any scoring, the model in the registry has its served-version gauges (loaded at
    // start): the dashboard lists it, and the flagged-rate alerts watch it.
    const version = readFileSync(join(dir, 'models', 'payments', 'CURRENT'), 'utf8').trim();
    let metrics = '';
    for (let i = 0; i < 50 && !metrics.includes('nce_ood_model_expected_flagged_ratio{model="payments"}'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      metrics = await (await fetch(`${url}/metrics`)).text();
    }
    expect(metrics).toMatch(new RegExp(`^nce_ood_model_info\\{[^}]*model="payments"[^}]*version="${version}"`, 'm'));
    expect(metrics).toMatch(/^nce_ood_model_expected_flagged_ratio\{model="payments"\} 0\.0\d+$/m);
    // Said once the warm-up has gone through the registry, after the load that made the gauges.
    for (let i = 0; i < 50 && !logs.includes('current versions loaded at start'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(logs).toContain('current versions loaded at start');
    const ok = await fetch(`${url}/v1/models/payments/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ amount: 51.5, channel: 'web' }, { amount: 987654.25, channel: 'web' }] }),
    });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { version: string; results: { ood: boolean }[] };
    expect(body.results.map((r) => r.ood)).toEqual([false, true]);

    const bad = await fetch(`${url}/v1/models/payments/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ amount: 'lots', channel: 'web' }] }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { pointer: string }).pointer).toBe('/records/0/amount');

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(logs).toContain('API_KEYS is not set');
    expect(logs).not.toContain('987654');
    expect(logs).not.toContain('lots');

    const exited = new Promise<number | null>((r) => service.once('exit', (code) => r(code)));
    service.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
