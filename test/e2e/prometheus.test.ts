import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { Service } from '../../src/compose';
import { type DataRecord, toArtifact, train } from '../../src/nce';
import { parseCsv } from '../../src/store';
import { eventually, freePort, ROOT, run, type Running } from '../helpers/processes';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/** The shipped rules and dashboard against a real Prometheus scraping the service. */
const RULES = join(ROOT, 'monitoring', 'prometheus', 'rules.yml');
const DASHBOARD = join(ROOT, 'monitoring', 'grafana', 'nce-ood-dashboard.json');
const DATA = resolve(ROOT, '..', 'shared', 'datasets', 'thyroid.csv');
let running: EmbeddedService;
let dir: string;
let service: Service;
let server: Server;
let prometheus: Running;
let promUrl: string;
let serviceUrl: string;

beforeAll(async () => {
  running = await startEmbedded({ MAX_BATCH_RECORDS: '5000' });
  ({ service, dir } = running);
  ({ server, base: serviceUrl } = await listen(service.app));
  const { port } = new URL(serviceUrl);
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: ['${RULES}']`,
      'scrape_configs:',
      `  - { job_name: nce-ood, static_configs: [{ targets: ['127.0.0.1:${port}'] }] }`,
    ].join('\n'),
  );
  prometheus = run('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`]);
  await eventually(async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 30_000, `prometheus: ${prometheus.output()}`);
});

afterAll(async () => {
  await prometheus?.stop();
  server?.close();
  await running?.close();
});

async function query(promql: string): Promise<{ status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string }> {
  return (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`)).json() as Promise<never>;
}

async function post(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${serviceUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

describe('monitoring with a real Prometheus', () => {
  it('promtool accepts the rules; after shifted traffic PromQL sees the drift gauge over 0.25 and the drift alert goes pending', async () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('SUCCESS');
    expect(check.status).toBe(0);
    // The flagged-rate alert fires on the model flagging 5x what its threshold should, not on one
    // whose stated contamination makes that share its normal state.
    // The input drift alert (large windows, scored models), the elevated flagged share (twice the
    // expected share and beyond chance), and no score drift alert on a window nobody scores.
    for (const fixture of ['rules-flagged-rate.test.yml', 'rules-drift.test.yml']) {
      const unit = spawnSync('promtool', ['test', 'rules', join(ROOT, 'test', 'fixtures', fixture)], { encoding: 'utf8' });
      expect(unit.stdout + unit.stderr).toContain('SUCCESS');
      expect(unit.status).toBe(0);
    }

    const table = parseCsv(await readFile(DATA, 'utf8'));
    const features = table.columns.filter((c) => c !== 'label' && c !== 'split');
    const pick = (r: DataRecord): DataRecord => Object.fromEntries(features.map((c) => [c, r[c] ?? null]));
    const trainRows = table.records.filter((r) => r.split === 'train').map(pick);
    const { backend } = running;
    await service.store.save('thyroid', toArtifact(await train(trainRows, { epochs: 10, seed: 4 }), { datasetFingerprint: 'x', datasetRows: trainRows.length, backend }));
    const normal = table.records.filter((r) => r.split === 'test' && r.label === 0).map(pick);
    const shift = features.slice(0, 2);
    const shifted = normal.map((r) => ({ ...r, ...Object.fromEntries(shift.map((f) => [f, (r[f] as number) + 0.5])) }));
    await post('/v1/models/thyroid/score', { records: shifted });

    const psi = await eventually(
      async () => {
        const r = await query('nce_ood_drift_psi{model="thyroid"}');
        const v = Number(r.data?.result[0]?.value[1]);
        return v > 0.25 ? v : undefined;
      },
      30_000,
      'the drift gauge in Prometheus',
    );
    expect(psi).toBeGreaterThan(0.25);
    // The drift alert holds while the model is scored: the traffic goes on.
    let sent = 0;
    const alert = await eventually(
      async () => {
        await post('/v1/models/thyroid/score', { records: shifted.slice(sent % 500, (sent % 500) + 20) });
        sent += 20;
        const alerts = ((await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } }).data.alerts;
        return alerts.find((a) => a.labels.alertname === 'NceOodDriftHigh' && a.labels.model === 'thyroid' && (a.state === 'pending' || a.state === 'firing'));
      },
      30_000,
      'NceOodDriftHigh pending',
    );
    expect(alert.state).toMatch(/pending|firing/);
  });

  it('every dashboard query parses in Prometheus and reads a metric the service exports or a rule records', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: { title: string; type: string; targets: { expr: string; instant?: boolean; format?: string }[]; transformations?: { id: string }[] }[] };
    // A table shows one row per series only from instant queries read as tables, and one row per
    // model from several queries only once they are merged: range queries give a frame per series.
    for (const table of dashboard.panels.filter((p) => p.type === 'table')) {
      for (const t of table.targets) expect({ panel: table.title, instant: t.instant, format: t.format }).toEqual({ panel: table.title, instant: true, format: 'table' });
      if (table.targets.length > 1) expect({ panel: table.title, merged: table.transformations?.some((x) => x.id === 'merge') }).toEqual({ panel: table.title, merged: true });
    }
    const exported = new Set(
      (await (await fetch(`${serviceUrl}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('# HELP '))
        .map((l) => l.split(' ')[2]),
    );
    const recorded = new Set([...(await readFile(RULES, 'utf8')).matchAll(/record: (\S+)/g)].map((m) => m[1]));
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) {
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        const r = await query(expr.replace(/\$model/g, '.*').replace(/\$__rate_interval/g, '1m'));
        expect({ panel: panel.title, expr, status: r.status, error: r.error }).toMatchObject({ status: 'success' });
        const names = [...expr.matchAll(/\bnce_ood[a-z0-9_:]*/g)].map((m) => m[0]);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) {
          const known = name.includes(':') ? recorded.has(name) : exported.has(name.replace(/_(bucket|count|sum)$/, ''));
          expect({ panel: panel.title, name, known }).toEqual({ panel: panel.title, name, known: true });
        }
      }
    }
  });
});
