import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import request from 'supertest';
import { openApiDocument } from '../../src/api/openapi';
import type { Express } from 'express';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { initBackend, toArtifact, train, type TrainResult } from '../../src/nce';
import type { ModelStore } from '../../src/store';
import { normalRecords, suffix } from '../helpers/data';

let dir: string;
let store: ModelStore;
let service: Service;
let app: Express;
let result: TrainResult;
const name = `m-${suffix()}`;
const ADMIN = 'admin-key-123456';
const SCORER = 'score-key-123456';

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-api-'));
  const settings = loadSettings({ MODELS_DIR: dir, DATASETS_DIR: join(dir, 'data'), MAX_BATCH_RECORDS: '50', MAX_EXPLAIN_RECORDS: '5', MAX_BODY_BYTES: '20000', API_KEYS: `admin:${ADMIN},score:${SCORER}` });
  service = await composeEmbedded(settings, pino({ level: 'silent' }), backend);
  ({ app, store } = service);
  result = await train(normalRecords(400, 3, 1), { epochs: 5 });
  await store.save(name, toArtifact(result, { datasetFingerprint: 'test', datasetRows: 400, backend }));
});

afterAll(async () => {
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

const score = (body: unknown, key = SCORER) => request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${key}`).send(body as object);

describe('POST /v1/models/:name/score', () => {
  it('returns one result per record in order, naming the model version', async () => {
    const res = await score({ records: [{ f0: 0, f1: 0, f2: 0 }, { f0: 9, f1: -9, f2: 9 }] });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(name);
    expect(res.body.version).toBe(await store.currentVersion(name));
    expect(res.body.results).toHaveLength(2);
    const [near, far] = res.body.results;
    expect(far.score).toBeLessThan(near.score);
    expect(far.ood).toBe(true);
    expect(Object.keys(near).sort()).toEqual(['logDensity', 'logRatio', 'ood', 'percentile', 'score']);
  });

  it('with explain, adds per-feature contributions', async () => {
    const res = await score({ records: [{ f0: 1, f1: 2, f2: 0 }], explain: true });
    expect(res.status).toBe(200);
    // Asked for in the body: `?explain=true` is refused, not ignored.
    const inQuery = await request(app).post(`/v1/models/${name}/score?explain=true`).set('authorization', `Bearer ${SCORER}`).send({ records: [{ f0: 1, f1: 2, f2: 0 }] });
    expect(inQuery.body).toMatchObject({ status: 400, pointer: '/explain', detail: expect.stringContaining('"explain": true') });
    expect(Object.keys(res.body.results[0].contributions).sort()).toEqual(['f0', 'f1', 'f2']);
    // Explanations are limited apart (MAX_EXPLAIN_RECORDS, 5 here): the same 6 records score, but are not explained.
    const six = Array.from({ length: 6 }, (_, i) => ({ f0: i, f1: 0, f2: 0 }));
    expect((await score({ records: six.slice(0, 5), explain: true })).status).toBe(200);
    const over = await score({ records: six, explain: true });
    expect(over.status).toBe(413);
    expect(over.type).toBe('application/problem+json');
    expect(over.body).toMatchObject({ code: 'BATCH_TOO_LARGE', pointer: '/explain', detail: expect.stringContaining('MAX_EXPLAIN_RECORDS') });
    expect((await score({ records: six })).status).toBe(200);
  });

  it('a wide model explains fewer records a request, MAX_EXPLAIN_RECORDS x (600 / features)², since an explanation costs features² (413 saying how many)', async () => {
    const d = 1000;
    const wide = `wide-${suffix()}`;
    const trained = await train(normalRecords(60, d, 2), { epochs: 1 });
    await store.save(wide, toArtifact(trained, { datasetFingerprint: 'wide', datasetRows: 60, backend: 'test' }));
    const record = Object.fromEntries(Array.from({ length: d }, (_, j) => [`f${j}`, 0]));
    const two = await request(app).post(`/v1/models/${wide}/score`).set('authorization', `Bearer ${SCORER}`).send({ records: [record, record], explain: true });
    expect(two.body).toMatchObject({ status: 413, code: 'BATCH_TOO_LARGE', pointer: '/explain', detail: expect.stringContaining(`a model of ${d} features explains at most 1 a request (MAX_EXPLAIN_RECORDS x (600 / features)²)`) });
    expect((await request(app).post(`/v1/models/${wide}/score`).set('authorization', `Bearer ${SCORER}`).send({ records: [record, record] })).status).toBe(200);
  });

  it.each([
    [{ records: [{ f0: 0, f1: 0, f2: 0 }, { f0: 0, f1: 0, f2: 0 }, { f0: 0, f1: 0, f2: 0 }, { f0: 'x', f1: 0, f2: 0 }] }, '/records/3/f0'],
    [{ records: [{ f0: 0, f1: 0, f2: 0 }, { f0: 0, f2: 0 }] }, '/records/1/f1'],
    [{ records: [{ f0: 0, f1: 0, f2: [1] }] }, '/records/0/f2'],
    [{ records: [{ f0: 0, f1: 0, f2: { a: 1 } }] }, '/records/0/f2'],
  ])('when a record is wrong, answers 400 INVALID_RECORD pointing at it (%j)', async (body, pointer) => {
    const res = await score(body);
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ code: 'INVALID_RECORD', status: 400, pointer });
  });

  it('takes the same records as columns or as CSV, answers CSV when asked, and names a bad cell by column and row', async () => {
    const records = normalRecords(20, 3, 5);
    const objects = (await score({ records })).body.results as { score: number }[];
    const columns = { f0: records.map((r) => r.f0), f1: records.map((r) => r.f1), f2: records.map((r) => r.f2) };
    const columnar = await score({ columns });
    expect(columnar.status).toBe(200);
    expect(columnar.body.results).toEqual(objects);
    const both = await score({ records, columns });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringContaining('either as "records" (objects) or as "columns" (arrays), not both') });
    const csv = ['f2,f0,f1', ...records.map((r) => `${r.f2},${r.f0},${r.f1}`)].join('\n');
    const fromCsv = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send(csv);
    expect(fromCsv.status).toBe(200);
    expect((fromCsv.body.results as { score: number }[]).map((r) => r.score)).toEqual(objects.map((r) => r.score));
    // CSV back when the Accept header asks for it, with the version in a header.
    const asCsv = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', 'text/csv').send({ columns });
    expect(asCsv.status).toBe(200);
    expect(asCsv.headers['content-type']).toContain('text/csv');
    expect(asCsv.headers['x-model-version']).toBe(await store.currentVersion(name));
    const explainedCsv = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', 'text/csv').send({ columns, explain: true });
    expect(explainedCsv.status).toBe(406);
    expect(explainedCsv.body).toMatchObject({ code: 'NOT_ACCEPTABLE', pointer: '/explain' });
    // Media types are case-insensitive, and parameters other than q say nothing about the type.
    // text/* takes CSV, the one text type the route answers with; text/html alone gets JSON, as before.
    expect((await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', 'text/html').send({ columns })).headers['content-type']).toContain('application/json');
    for (const accept of ['TEXT/CSV', 'text/csv; charset=utf-8', 'Text/Csv;header=present, application/json;q=0.5', 'text/*']) {
      const again = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', accept).send({ columns });
      expect([accept, again.headers['content-type']]).toEqual([accept, expect.stringContaining('text/csv')]);
      expect(again.text).toBe(asCsv.text);
      expect((await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', accept.split(',')[0]).send({ columns, explain: true })).status).toBe(406);
    }
    // A client that prefers CSV but takes JSON too gets its explanations as JSON.
    const either = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('accept', 'text/csv, application/json;q=0.1').send({ records: [{ f0: 0, f1: 0, f2: 0 }], explain: true });
    expect(either.status).toBe(200);
    expect(either.headers['content-type']).toContain('application/json');
    expect(Object.keys(either.body.results[0].contributions).length).toBeGreaterThan(0);
    const lines = asCsv.text.trim().split('\n');
    expect(lines[0]).toBe('score,logRatio,logDensity,percentile,ood');
    expect(lines.slice(1).map((l) => Number(l.split(',')[0]))).toEqual(objects.map((r) => r.score));

    const badCell = await score({ columns: { ...columns, f1: columns.f1.map((v, i) => (i === 3 ? 'x' : v)) } });
    expect(badCell.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/columns/f1/3', detail: expect.stringContaining('column "f1" row 3') });
    const ragged = await score({ columns: { ...columns, f2: columns.f2.slice(1) } });
    expect(ragged.body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', pointer: '/columns/f2' });
    const wrongType = await score({ columns: { ...columns, f0: columns.f0.map((v, i) => (i === 0 ? [1] : v)) } });
    expect(wrongType.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/columns/f0/0', detail: 'column "f0" row 0 must be a number, a string, a boolean or null' });
    const { f2: _, ...lacking } = columns;
    const missingColumn = await score({ columns: lacking });
    expect(missingColumn.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/columns/f2', detail: expect.stringMatching(/^column "f2" is missing/) });
    const badCsv = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send('f0,f1,f2\n1,2\n');
    expect(badCsv.body).toMatchObject({ status: 400, code: 'MALFORMED_BODY', detail: expect.stringContaining('body:2') });
    // A bad cell of a CSV body is named by its line, as an editor numbers it (the header is line 1).
    const textCell = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send('f0,f1,f2\n1,2,3\n1,x,3\n');
    expect(textCell.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/records/1/f1', detail: expect.stringMatching(/^CSV line 3: /) });
    // A column the header lacks is the header's fault, on its line, not the first row's.
    const noColumn = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send('f0,F2\n1,2\n');
    expect(noColumn.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', detail: expect.stringMatching(/^CSV line 1 \(the header\): no column "f[12]"/) });
    const noColumnLater = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send('\nf0,f1,F2\n1,2,3\n');
    expect(noColumnLater.body.detail).toMatch(/^CSV line 2 \(the header\): no column "f2" \(it has "F2": field names must match the model's exactly/);
    const empty = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/csv').send('f0,f1,f2\n');
    expect(empty.body).toMatchObject({ status: 400, detail: 'the body has no records' });
    const tooMany = await score({ columns: { f0: Array(51).fill(0), f1: Array(51).fill(0), f2: Array(51).fill(0) } });
    expect(tooMany.body).toMatchObject({ status: 413, code: 'BATCH_TOO_LARGE', pointer: '/columns' });
  });

  it('when the JSON is malformed, answers 400 MALFORMED_BODY', async () => {
    const res = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'application/json').send('{"records": [');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MALFORMED_BODY');
  });

  it('when the body is a bare JSON array of records (pandas to_json(orient="records")), answers 400 saying how to send them', async () => {
    const res = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).send([{ f0: 0, f1: 0, f2: 0 }]);
    expect(res.body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', detail: expect.stringContaining('{"records": [...]}') });
  });

  it('when the batch or the body is over its limit, answers 413', async () => {
    const many = { records: Array.from({ length: 51 }, () => ({ f0: 0, f1: 0, f2: 0 })) };
    expect((await score(many)).body).toMatchObject({ status: 413, code: 'BATCH_TOO_LARGE' });
    const big = { records: [{ f0: 0, f1: 0, f2: 'x'.repeat(30000) }] };
    expect((await score(big)).body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE' });
  });

  it('when the body is not JSON, answers 415', async () => {
    const res = await request(app).post(`/v1/models/${name}/score`).set('authorization', `Bearer ${SCORER}`).set('content-type', 'text/plain').send('f0,f1');
    expect(res.status).toBe(415);
  });

  it('when the model does not exist or its name is a path, answers 404 MODEL_NOT_FOUND', async () => {
    for (const bad of ['nope', '..%2F..%2Fetc']) {
      const res = await request(app).post(`/v1/models/${bad}/score`).set('authorization', `Bearer ${SCORER}`).send({ records: [{ f0: 0 }] });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('MODEL_NOT_FOUND');
    }
  });

  it('without a key answers 401, with a wrong key 401', async () => {
    expect((await request(app).post(`/v1/models/${name}/score`).send({ records: [{ f0: 0, f1: 0, f2: 0 }] })).status).toBe(401);
    expect((await score({ records: [{ f0: 0, f1: 0, f2: 0 }] }, 'wrong-key-000000')).status).toBe(401);
    expect((await score({ records: [{ f0: 0, f1: 0, f2: 0 }] }, ADMIN)).status).toBe(200);
  });

  it('after rejected requests the service still scores, and tensors do not grow across repeated scoring', async () => {
    await score({ records: [{ f0: 'bad' }] });
    await score({ records: [{ f0: 0, f1: 0, f2: 0 }] });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) expect((await score({ records: [{ f0: i / 10, f1: 0, f2: 0 }] })).status).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('when a new version is saved, serves it after the refresh interval without a restart', async () => {
    const v1 = (await score({ records: [{ f0: 0, f1: 0, f2: 0 }] })).body.version;
    const v2 = await store.save(name, toArtifact(result, { datasetFingerprint: 'test2', datasetRows: 400, backend: 'wasm' }));
    expect(v2).not.toBe(v1);
    // Saved behind the API's back (no announcement): the background check, every second, finds
    // it; until then the loaded version answers at once.
    const seen: string[] = [];
    const deadline = Date.now() + 4000;
    while (seen.at(-1) !== v2 && Date.now() < deadline) {
      const res = await score({ records: [{ f0: 0, f1: 0, f2: 0 }] });
      expect(res.status).toBe(200);
      seen.push(res.body.version);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.at(-1)).toBe(v2);
    expect(seen.filter((v) => v !== v1 && v !== v2)).toEqual([]);
  });

  it('when the new current version is tampered with, keeps serving the previous one', async () => {
    const good = (await score({ records: [{ f0: 0, f1: 0, f2: 0 }] })).body.version;
    const bad = await store.save(name, toArtifact(result, { datasetFingerprint: 'test3', datasetRows: 400, backend: 'wasm' }));
    const w = join(dir, name, bad, 'weights.bin');
    const bytes = await readFile(w);
    bytes[0] ^= 0xff;
    await writeFile(w, bytes);
    // Long enough for two background checks to have read the new version and refused it.
    for (const wait of [2500, 500]) {
      await new Promise((r) => setTimeout(r, wait));
      const res = await score({ records: [{ f0: 0, f1: 0, f2: 0 }] });
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(good);
    }
  });
});

describe('model versions', () => {
  it('lists versions with the current one and the damaged one marked; promote rolls back; delete removes the model', async () => {
    const list = await request(app).get(`/v1/models/${name}/versions`).set('authorization', `Bearer ${SCORER}`);
    expect(list.status).toBe(200);
    const versions = list.body.versions as { version: string; current: boolean; damaged?: string }[];
    expect(versions.length).toBeGreaterThanOrEqual(3);
    expect(versions.filter((v) => v.current)).toHaveLength(1);
    expect(versions.some((v) => v.damaged?.includes('weights.bin'))).toBe(true);
    // Why, in words that name no path of the server's.
    expect(JSON.stringify(list.body)).not.toContain(dir);

    const oldest = versions[0].version;
    expect((await request(app).post(`/v1/models/${name}/versions/${oldest}/promote`).set('authorization', `Bearer ${SCORER}`)).status).toBe(403);
    const promoted = await request(app).post(`/v1/models/${name}/versions/${oldest}/promote`).set('authorization', `Bearer ${ADMIN}`);
    expect(promoted.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await score({ records: [{ f0: 0, f1: 0, f2: 0 }] })).body.version).toBe(oldest);
    expect((await request(app).post(`/v1/models/${name}/versions/nope/promote`).set('authorization', `Bearer ${ADMIN}`)).body).toMatchObject({ status: 404, code: 'VERSION_NOT_FOUND' });
    // A model that does not exist is named as such, not as a version it lacks.
    expect((await request(app).post('/v1/models/nobody/versions/nope/promote').set('authorization', `Bearer ${ADMIN}`)).body).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
    const damaged = versions.find((v) => v.damaged) as { version: string };
    const refused = await request(app).post(`/v1/models/${name}/versions/${damaged.version}/promote`).set('authorization', `Bearer ${ADMIN}`);
    expect(refused.body).toMatchObject({ status: 409, code: 'VERSION_DAMAGED' });
    expect(refused.body.detail).not.toContain(dir);
    // A query the route does not take is refused, not ignored: `?version=` would delete every version.
    const deleteOne = await request(app).delete(`/v1/models/${name}?version=${oldest}`).set('authorization', `Bearer ${ADMIN}`);
    expect(deleteOne.body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', pointer: '/version', detail: expect.stringContaining('a single version cannot be deleted') });
    expect((await request(app).get(`/v1/models/${name}/versions`).set('authorization', `Bearer ${SCORER}`)).body.versions).toHaveLength(versions.length);
    expect(await store.currentVersion(name)).toBe(oldest);
  });
});

describe('GET routes', () => {
  it('GET / points a newcomer to the docs, the OpenAPI document, the metrics and the models', async () => {
    const root = await request(app).get('/');
    expect(root.status).toBe(200);
    expect(root.body.links).toMatchObject({ docs: '/docs', openapi: '/openapi.json', metrics: '/metrics', models: '/v1/models' });
    // Every link is a route (this app has API keys: /v1/models asks for one).
    for (const path of Object.values(root.body.links as Record<string, string>)) expect([200, 401]).toContain((await request(app).get(path)).status);
  });

  it('/healthz, /readyz report ok and the backend; /metrics counts scored records', async () => {
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(ready.body.backend);
    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toMatch(new RegExp(`nce_ood_scored_records_total\\{model="${name}"\\} [1-9]`));
    expect(metrics.text).toMatch(new RegExp(`nce_ood_flagged_records_total\\{model="${name}"\\} [1-9]`));
    expect(metrics.text).toContain('nce_ood_http_request_duration_seconds_bucket');
  });

  it('a model that has flagged nothing yet exports its flagged count as 0, so its flagged ratio is 0 rather than no data', async () => {
    const quiet = `${name}-quiet`;
    await store.save(quiet, toArtifact(result, { datasetFingerprint: 'test', datasetRows: 400, backend: 'wasm' }));
    const res = await request(app).post(`/v1/models/${quiet}/score`).set('authorization', `Bearer ${SCORER}`).send({ records: [{ f0: 0, f1: 0, f2: 0 }] });
    expect(res.body.results[0].ood).toBe(false);
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toContain(`nce_ood_scored_records_total{model="${quiet}"} 1\n`);
    expect(metrics).toContain(`nce_ood_flagged_records_total{model="${quiet}"} 0\n`);
  });

  it('/v1/models lists the model and /v1/models/:name summarises its current version', async () => {
    const list = await request(app).get('/v1/models').set('authorization', `Bearer ${SCORER}`);
    expect(list.body.models.map((m: { name: string }) => m.name)).toContain(name);
    const one = await request(app).get(`/v1/models/${name}`).set('authorization', `Bearer ${SCORER}`);
    expect(one.body).toMatchObject({ name, features: [{ name: 'f0', kind: 'numeric' }, { name: 'f1' }, { name: 'f2' }] });
  });

  it('DELETE /v1/models/:name needs admin, then the model is gone', async () => {
    const other = `d-${suffix()}`;
    await store.save(other, toArtifact(result, { datasetFingerprint: 'd', datasetRows: 400, backend: 'wasm' }));
    expect((await request(app).delete(`/v1/models/${other}`).set('authorization', `Bearer ${SCORER}`)).status).toBe(403);
    expect((await request(app).delete(`/v1/models/${other}`).set('authorization', `Bearer ${ADMIN}`)).status).toBe(204);
    expect((await request(app).get(`/v1/models/${other}`).set('authorization', `Bearer ${ADMIN}`)).status).toBe(404);
  });

  it('/openapi.json is OpenAPI 3.1 with every $ref resolvable, generated from the request schemas; /docs links to it', async () => {
    const doc = (await request(app).get('/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(3);
    for (const ref of refs) expect(doc.components.schemas).toHaveProperty([ref.split('/').pop()?.replace('"', '') as string]);
    expect(doc.components.schemas.ScoreRequest.properties.records.type).toBe('array');
    expect(doc.components.schemas.TrainingConfig.properties.noiseRatio).toMatchObject({ type: 'integer', minimum: 1 });
    for (const path of ['/v1/models/{name}/score', '/v1/models/{name}/train', '/v1/jobs/{id}', '/v1/datasets/{name}']) expect(doc.paths).toHaveProperty([path]);
    const docs = await request(app).get('/docs');
    expect(docs.type).toBe('text/html');
    expect(docs.text).toContain('/openapi.json');
  });

  it('an unknown route answers 404 problem+json', async () => {
    const res = await request(app).get('/nothing');
    expect(res.status).toBe(404);
    expect(res.type).toBe('application/problem+json');
  });

  it('every documented path asked with a method it does not take answers 405 with the Allow header', async () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    for (const [template, operations] of Object.entries(doc.paths)) {
      const path = template.replace('{name}', name).replace('{version}', 'v1').replace('{id}', 'j1');
      const documented = Object.keys(operations).filter((k) => ['get', 'put', 'post', 'delete', 'patch'].includes(k));
      const other = ['patch', 'put', 'post', 'delete'].find((m) => !documented.includes(m)) as 'patch' | 'put' | 'post' | 'delete';
      const res = await request(app)[other](path).set('authorization', `Bearer ${ADMIN}`);
      expect({ path, method: other, status: res.status, type: res.type, code: res.body.code }).toEqual({ path, method: other, status: 405, type: 'application/problem+json', code: 'METHOD_NOT_ALLOWED' });
      const allow = String(res.headers.allow).split(', ');
      expect(allow).toEqual(expect.arrayContaining(documented.map((m) => m.toUpperCase())));
      expect(allow.includes('HEAD')).toBe(documented.includes('get'));
      expect(allow.includes('OPTIONS')).toBe(true);
      expect(allow).toHaveLength(documented.length + (documented.includes('get') ? 1 : 0) + 1);
      // The same list OPTIONS answers with.
      expect((await request(app).options(path)).headers.allow).toBe(res.headers.allow);
    }
    // Counted under its route's pattern, as that route's other answers are, not as an unmatched path.
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toContain('nce_ood_http_request_duration_seconds_count{method="PATCH",route="/v1/models/:name/versions/:version/promote",status="405"}');
    expect(metrics).not.toMatch(/route="unmatched",status="405"/);
  });

  it('the pages beside the API answer 405 with Allow to another method, and OPTIONS answers every path of ours alike: 204 with its methods, 404 for no path', async () => {
    for (const path of ['/', '/openapi.json', '/metrics', '/docs', '/ui/', '/ui', `/ui/models/${name}`, '/problems/not-found']) {
      const res = await request(app).post(path);
      expect({ path, status: res.status, type: res.type, allow: res.headers.allow }).toEqual({ path, status: 405, type: 'application/problem+json', allow: 'GET, HEAD, OPTIONS' });
    }
    // A page's path is itself: its "." is no wildcard.
    expect((await request(app).post('/openapi_json')).status).toBe(404);
    // A page's route asked with its own method and not found there: 404, not 405.
    expect((await request(app).get('/ui/static/nothing.js')).status).toBe(404);
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    for (const template of [...Object.keys(doc.paths), '/docs']) {
      const path = template.replace('{name}', name).replace('{version}', 'v1').replace('{id}', 'j1');
      const res = await request(app).options(path);
      expect({ path, status: res.status, allow: res.headers.allow?.split(', ').includes('OPTIONS') }).toEqual({ path, status: 204, allow: true });
    }
    expect((await request(app).options(`/v1/models/${name}/score`)).headers.allow).toBe('POST, OPTIONS');
    expect((await request(app).options('/nothing')).body).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('a schedule looked up under a name no model could have is not found (404), as a model is, not a bad request', async () => {
    for (const method of ['get', 'delete'] as const) {
      const res = await request(app)[method]('/v1/models/a.b/schedule').set('authorization', `Bearer ${ADMIN}`);
      expect({ method, status: res.status, detail: res.body.detail }).toEqual({ method, status: 404, detail: 'model "a.b" has no schedule' });
    }
    expect((await request(app).get('/v1/models/a.b').set('authorization', `Bearer ${ADMIN}`)).status).toBe(404);
    // Jobs filtered by such a name: none, as for a model never trained.
    expect((await request(app).get('/v1/jobs?model=a.b').set('authorization', `Bearer ${ADMIN}`)).body).toEqual({ jobs: [] });
    // An empty filter (a client's variable left unset) is a mistake said, not every job or none.
    const empty = await request(app).get('/v1/jobs?model=').set('authorization', `Bearer ${ADMIN}`);
    expect({ status: empty.status, type: empty.type }).toEqual({ status: 400, type: 'application/problem+json' });
    expect(empty.body.detail).toContain('model');
  });

  it('a 401 says how to authenticate, and a client\'s request id is echoed only when it is a short printable one', async () => {
    const unauthorized = await request(app).get('/v1/models');
    expect({ status: unauthorized.status, challenge: unauthorized.headers['www-authenticate'] }).toEqual({ status: 401, challenge: 'Bearer' });
    expect((await request(app).get('/healthz').set('x-request-id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
    for (const id of ['x'.repeat(15_000), 'a b', 'é']) {
      const echoed = (await request(app).get('/healthz').set('x-request-id', id)).headers['x-request-id'];
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
