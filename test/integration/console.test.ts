import type { Express } from 'express';
import request from 'supertest';
import { PAGE_CSP } from '../../src/ui';
import { NceError, toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

const ADMIN = 'admin-key-console-0001';
const SCORER = 'score-key-console-0002';
/** The console's JavaScript budget per page, gzipped. */
const JS_BUDGET = 300 * 1024;

const services: EmbeddedService[] = [];

/**
 * A service with `env`, a model `m` trained on 3 normal features, scored with 100 records with f1
 * shifted by 6 and then 200 normal ones, once the console's flagged sample holds records.
 */
async function serviceWithTraffic(env: Record<string, string>, key = ADMIN): Promise<Express> {
  const running = await startEmbedded({ DRIFT_MIN_RECORDS: '50', ...env });
  services.push(running);
  const { app } = running.service;
  const auth = { authorization: `Bearer ${key}` };
  expect((await request(app).put('/v1/datasets/d').set(auth).send({ records: normalRecords(400, 3, 1) })).status).toBe(200);
  const started = await request(app).post('/v1/models/m/train').set(auth).send({ dataset: 'd', config: { epochs: 5, seed: 1 } });
  expect(await jobState(app, started.body.jobId, auth)).toBe('completed');
  // The shifted records first: a model's first flagged batch always joins the sample, a later one
  // only so long after the last sample (50 times its explaining time, which a loaded machine
  // stretches). The sample is explained on a thread after the answer.
  const shifted = normalRecords(100, 3, 3).map((r) => ({ ...r, f1: (r.f1 as number) + 6 }));
  expect((await request(app).post('/v1/models/m/score').set(auth).send({ records: shifted })).status).toBe(200);
  expect((await request(app).post('/v1/models/m/score').set(auth).send({ records: normalRecords(200, 3, 2) })).status).toBe(200);
  for (let i = 0; i < 200 && (await request(app).get('/v1/models/m/console').set(auth)).body.flagged.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return app;
}

/** Polls a job with a key until it completed or failed. */
async function jobState(app: Express, id: string, auth: Record<string, string>): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const { state } = (await request(app).get(`/v1/jobs/${id}`).set(auth)).body as { state: string };
    if (state === 'completed' || state === 'failed') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});

describe('GET /v1/models/:name/console', () => {
  let app: Express;
  beforeAll(async () => {
    app = await serviceWithTraffic({});
  });

  it('gives the training history, the scores against the reference, drift with the shifted feature first, and flagged records explained by it', async () => {
    const res = await request(app).get('/v1/models/m/console');
    expect(res.status).toBe(200);
    const c = res.body;
    expect(c).toMatchObject({ name: 'm', access: 'open', rawValues: true, traffic: { scored: 300 } });
    expect(c.history.length).toBe(c.model.epochsRun);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(c.scores.reference)).toBeCloseTo(1, 6);
    expect(sum(c.scores.window)).toBeCloseTo(1, 6);
    expect(c.scores.records).toBe(300);
    expect(c.scores.edges.length).toBe(c.scores.reference.length + 1);
    expect(c.drift.records).toBe(300);
    expect(c.drift.psi).toBeGreaterThan(0.1);
    expect(c.drift.features.map((f: { feature: string }) => f.feature)).toEqual(['f1', expect.any(String), expect.any(String)]);
    expect(c.drift.featureCount).toBe(3);
    expect(c.drift.features[0].psi).toBeGreaterThan(0.25);
    expect(c.drift.features[0].bins.length).toBe(c.drift.features[0].reference.length);
    expect(c.flagged.length).toBeGreaterThan(0);
    // The shifted records are explained by the feature that moved.
    const moved = c.flagged.filter((f: { values: { f1: number } }) => f.values.f1 > 4);
    expect(moved.length).toBeGreaterThan(0);
    for (const f of moved) expect(f.contributions[0].feature).toBe('f1');
    expect(Object.keys(c.flagged[0].values).sort()).toEqual(['f0', 'f1', 'f2']);
  });

  it('of a wide model, gives the 50 most drifted features and how many there are, gzipped when the page takes it', async () => {
    const wide = normalRecords(200, 80, 4);
    expect((await request(app).put('/v1/datasets/wide').send({ records: wide })).status).toBe(200);
    const started = await request(app).post('/v1/models/wide/train').send({ dataset: 'wide', config: { epochs: 2, seed: 1 } });
    expect(await jobState(app, started.body.jobId, {})).toBe('completed');
    const shifted = normalRecords(100, 80, 5).map((r) => ({ ...r, f70: (r.f70 as number) + 6 }));
    expect((await request(app).post('/v1/models/wide/score').send({ records: shifted })).status).toBe(200);
    const res = await request(app).get('/v1/models/wide/console').set('accept-encoding', 'gzip');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toContain('accept-encoding');
    // (supertest inflates it.)
    expect(res.body.drift.featureCount).toBe(80);
    expect(res.body.drift.features).toHaveLength(50);
    expect(res.body.drift.features[0].feature).toBe('f70');
    const plain = await request(app).get('/v1/models/wide/console').set('accept-encoding', 'identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.drift.features).toHaveLength(50);
  });

  it("gives the model's retraining schedule: null without one, its cron, time zone, dataset and next run with one", async () => {
    expect((await request(app).get('/v1/models/m/console')).body.schedule).toBeNull();
    const put = await request(app).put('/v1/models/m/schedule').send({ cron: '30 2 * * *', dataset: 'd', timezone: 'Asia/Tokyo' });
    expect(put.status).toBe(200);
    try {
      const { schedule } = (await request(app).get('/v1/models/m/console')).body;
      expect(schedule).toEqual({ cron: '30 2 * * *', timezone: 'Asia/Tokyo', dataset: 'd', nextRun: put.body.nextRun });
    } finally {
      expect((await request(app).delete('/v1/models/m/schedule')).status).toBe(204);
    }
  });

  it('an unknown model is a 404 problem', async () => {
    const res = await request(app).get('/v1/models/nope/console');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('MODEL_NOT_FOUND');
  });

  it('GET /v1/console lists the model with its records scored and flagged and its score PSI', async () => {
    const res = await request(app).get('/v1/console');
    expect(res.status).toBe(200);
    const m = res.body.models.find((x: { name: string }) => x.name === 'm');
    expect(m).toMatchObject({ scored: 300, version: expect.any(String), createdAt: expect.any(String), valAuc: expect.any(Number) });
    expect(m.flagged).toBeGreaterThan(50);
    expect(m.psi).toBeGreaterThan(0.1);
  });
});

describe('a model whose every version the quality gate kept back', () => {
  it('is listed by GET /v1/models and the console, with its newest candidate, so its page and Promote can be found', async () => {
    const running = await startEmbedded({ QUALITY_GATE_MIN_VAL_AUC: '0.999' });
    services.push(running);
    const { app } = running.service;
    expect((await request(app).put('/v1/datasets/d').send({ records: normalRecords(300, 3, 1) })).status).toBe(200);
    const started = await request(app).post('/v1/models/kept/train').send({ dataset: 'd', config: { epochs: 2 } });
    expect(await jobState(app, started.body.jobId, {})).toBe('completed');
    const [candidate] = (await request(app).get('/v1/models/kept/versions')).body.versions as { version: string; candidate: string | null }[];
    expect(candidate?.candidate).toEqual(expect.any(String));
    expect((await request(app).get('/v1/models')).body).toEqual({ models: [{ name: 'kept', version: null, candidate: candidate?.version }] });
    expect((await request(app).get('/v1/console')).body.models).toEqual([{ name: 'kept', version: null, candidate: candidate?.version, scored: 0, flagged: 0, psi: null }]);
    // Promoted, it is an ordinary model.
    expect((await request(app).post(`/v1/models/kept/versions/${candidate?.version}/promote`)).status).toBe(200);
    expect((await request(app).get('/v1/models')).body).toEqual({ models: [{ name: 'kept', version: candidate?.version }] });
    // ...and its version no longer reads as held back.
    expect((await request(app).get('/v1/models/kept/versions')).body.versions).toEqual([expect.objectContaining({ version: candidate?.version, current: true, candidate: null })]);
  });
});

describe('raw values of flagged records', () => {
  it('with API_KEYS, an admin key sees them and a score key does not', async () => {
    const app = await serviceWithTraffic({ API_KEYS: `admin:${ADMIN},score:${SCORER}` });
    const admin = (await request(app).get('/v1/models/m/console').set('authorization', `Bearer ${ADMIN}`)).body;
    expect(admin).toMatchObject({ access: 'admin', rawValues: true });
    expect(admin.flagged[0].values).toBeDefined();
    const scorer = (await request(app).get('/v1/models/m/console').set('x-api-key', SCORER)).body;
    expect(scorer).toMatchObject({ access: 'score', rawValues: false });
    expect(scorer.flagged.length).toBeGreaterThan(0);
    expect(scorer.flagged.every((f: object) => !('values' in f))).toBe(true);
    expect((await request(app).get('/v1/models/m/console')).status).toBe(401);
  });

  it('with CONSOLE_RAW_VALUES=off, they are neither kept nor shown, even to an admin key', async () => {
    const app = await serviceWithTraffic({ CONSOLE_RAW_VALUES: 'off' });
    const c = (await request(app).get('/v1/models/m/console')).body;
    expect(c.rawValues).toBe(false);
    expect(c.flagged.length).toBeGreaterThan(0);
    expect(c.flagged.every((f: object) => !('values' in f))).toBe(true);
    const running = services[services.length - 1] as EmbeddedService;
    expect(running.service.metrics.traffic.view('m')?.sample.every((f) => f.values === undefined)).toBe(true);
  });
});

describe('the console pages', () => {
  let app: Express;
  beforeAll(async () => {
    const running = await startEmbedded();
    services.push(running);
    app = running.service.app;
  });

  it('are shells with no inline script and a CSP, whose scripts are served from this service, gzipped, within the JavaScript budget', async () => {
    for (const path of ['/ui/', '/ui', '/ui/models/anything']) {
      const page = await request(app).get(path);
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
      const scripts = [...page.text.matchAll(/<script([^>]*)>/g)].map((m) => m[1] as string);
      expect(scripts.length).toBeGreaterThan(0);
      expect(scripts.every((attrs) => /src="\/ui\/static\/[a-z.]+\.js"/.test(attrs))).toBe(true);
      let gzipped = 0;
      for (const attrs of scripts) {
        const src = (attrs.match(/src="([^"]+)"/) as RegExpMatchArray)[1] as string;
        const js = await request(app).get(src).set('accept-encoding', 'gzip');
        expect(js.status).toBe(200);
        expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(js.headers['content-encoding']).toBe('gzip');
        // supertest hands over the body decompressed; the bytes sent are the content-length.
        const sent = Number(js.headers['content-length']);
        expect(sent).toBeGreaterThan(0);
        expect(sent).toBeLessThan(Buffer.byteLength(js.text));
        gzipped += sent;
      }
      expect(gzipped).toBeLessThan(JS_BUDGET);
    }
  });

  it('answers a model page for a name no model can have (a space, a dot) with a 404 page that says why, not one waiting for it to be trained', async () => {
    for (const name of ['my model', 'a.b', 'x'.repeat(65)]) {
      const page = await request(app).get(`/ui/models/${encodeURIComponent(name)}`);
      expect(page.status).toBe(404);
      expect(page.type).toBe('text/html');
      expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
      expect(page.text).toContain(`&#34;${name}&#34; cannot name a model`);
      expect(page.text).not.toContain('<script');
    }
    expect((await request(app).get('/ui/models/my-model_2')).status).toBe(200);
  });

  it('answers a console path that is no page (a URL cut short, a typo) with a 404 page leading back, not the API\'s problem document', async () => {
    for (const path of ['/ui/models/', '/ui/nope', '/ui/models/a/b', '/ui/models/%', '/ui/models/%C0%AE']) {
      const page = await request(app).get(path).set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
      expect({ path, status: page.status, type: page.type }).toEqual({ path, status: 404, type: 'text/html' });
      expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
      expect(page.text).toContain('No such page');
      expect(page.text).toContain('href="/ui/"');
    }
    // Counted under one route label, not the source of the pattern that matched them.
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toMatch(/nce_ood_http_request_duration_seconds_count\{method="GET",route="\/ui\/\*",status="404"\} 5\n/);
    expect(metrics).not.toContain('route="/^');
    // A client that asks for JSON still gets the problem document.
    const json = await request(app).get('/ui/nope').set('accept', 'application/json');
    expect(json.status).toBe(404);
    expect(json.type).toBe('application/problem+json');
  });

  it('serves /docs from swagger-ui in node_modules, with the route table kept as a section', async () => {
    const docs = await request(app).get('/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('/ui/static/swagger-ui-bundle.js');
    expect(docs.text).toContain('<code>/v1/models/{name}/score</code>');
    const bundle = await request(app).get('/ui/static/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect(bundle.text).toContain('SwaggerUIBundle');
  });

  it('serves no file outside its list', async () => {
    for (const path of ['/ui/static/nothing.js', '/ui/static/..%2F..%2Fpackage.json', '/ui/static/assets.ts']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(404);
      expect(res.type).toBe('application/problem+json');
    }
  });
});

describe('GET /v1/console while a model is deleted', () => {
  it('leaves out a model whose version went while it was read (an outside probe: listed as damaged), and still lists a damaged one', async () => {
    const running = await startEmbedded();
    services.push(running);
    const { app, store } = running.service;
    const artifact = toArtifact(await train(normalRecords(100, 3, 1), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 100, backend: running.backend });
    await store.save('gone', artifact);
    await store.save('broken', artifact);
    const load = store.load.bind(store);
    // The delete lands between the listing and the read of the artifact; the other model's artifact is damaged.
    jest.spyOn(store, 'load').mockImplementation(async (name, version) => {
      if (name === 'gone') await store.delete('gone');
      if (name === 'gone' || name === 'broken') throw new NceError('ARTIFACT_INVALID', `no model artifact for ${name} version ${version}`);
      return load(name, version);
    });
    const listed = (await request(app).get('/v1/console')).body.models as { name: string; damaged?: string }[];
    expect(listed.map((m) => m.name)).toEqual(['broken']);
    expect(listed[0].damaged).toContain('no model artifact');
  });
});
