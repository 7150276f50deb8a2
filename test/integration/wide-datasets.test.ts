import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import request from 'supertest';
import { fewAtOnce } from '../../src/api/datasets.route';
import { AppError } from '../../src/errors';
import { runTrainJob } from '../../src/queue';
import type { DatasetStore, ModelStore } from '../../src/store';
import { featureColumns, MAX_FEATURES } from '../../src/nce';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

// A dataset may be a little wider than a model takes, so that a training request of one can be refused.
const MAX_COLUMNS = MAX_FEATURES + 4;

// Values an upload may hold: what its memory follows, rather than its bytes.
const MAX_VALUES = 200_000;
// Values of a dataset trained on: what the training process holds.
const MAX_TRAINING = 150_000;

let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded({ MAX_DATASET_COLUMNS: String(MAX_COLUMNS), MAX_CONCURRENT_UPLOADS: '2', MAX_UPLOAD_VALUES: String(MAX_VALUES), MAX_TRAINING_VALUES: String(MAX_TRAINING) });
});

afterAll(async () => {
  await running?.close();
});

const names = (n: number): string[] => Array.from({ length: n }, (_, j) => `c${j}`);
const csvOf = (columns: number, rows: number): string => [names(columns).join(','), ...Array.from({ length: rows }, (_, i) => names(columns).map((_, j) => (i * 7 + j) % 13).join(','))].join('\n');
const recordOf = (columns: number, i: number): Record<string, number> => Object.fromEntries(names(columns).map((c, j) => [c, (i * 7 + j) % 13]));

describe('datasets wider than MAX_DATASET_COLUMNS', () => {
  it('are refused at upload as CSV, JSON and NDJSON (413 TOO_MANY_COLUMNS), and nothing is stored', async () => {
    const { app } = running.service;
    const wide = MAX_COLUMNS + 1;
    const csv = await request(app).put('/v1/datasets/wide').set('content-type', 'text/csv').send(csvOf(wide, 3));
    expect(csv.status).toBe(413);
    expect(csv.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(csv.body).toMatchObject({ code: 'TOO_MANY_COLUMNS', detail: `the header has ${wide} columns; a dataset has at most ${MAX_COLUMNS} (MAX_DATASET_COLUMNS), and a model takes at most ${MAX_FEATURES}. Nothing was stored` });
    const json = await request(app).put('/v1/datasets/wide').send({ records: [recordOf(wide, 0), recordOf(wide, 1)] });
    expect(json.body).toMatchObject({ status: 413, code: 'TOO_MANY_COLUMNS', detail: expect.stringMatching(/^record 0 has \d+ columns/) });
    const ndjson = await request(app).put('/v1/datasets/wide').set('content-type', 'application/x-ndjson').send(`\n${JSON.stringify(recordOf(wide, 0))}\n${JSON.stringify(recordOf(wide, 1))}\n`);
    expect(ndjson.body).toMatchObject({ status: 413, code: 'TOO_MANY_COLUMNS', detail: expect.stringMatching(/^NDJSON line 2: the first record has \d+ columns/) });
    expect((await request(app).get('/v1/datasets/wide')).status).toBe(404);
    // The service goes on: a dataset of the largest width is taken.
    expect((await request(app).put('/v1/datasets/wide').set('content-type', 'text/csv').send(csvOf(MAX_COLUMNS, 3))).body.rows).toBe(3);
  });

  it('a training request over more than MAX_FEATURES columns is a 400 naming exclude, before any job', async () => {
    const { app } = running.service;
    expect((await request(app).put('/v1/datasets/wider').set('content-type', 'text/csv').send(csvOf(MAX_FEATURES + 1, 25))).status).toBe(200);
    const refused = await request(app).post('/v1/models/wider/train').send({ dataset: 'wider' });
    expect(refused.body).toMatchObject({ status: 400, pointer: '/config/exclude', detail: expect.stringContaining(`${MAX_FEATURES + 1} feature columns; a model takes at most ${MAX_FEATURES}`) });
    expect((await request(app).get('/v1/jobs')).body.jobs).toEqual([]);
  });
});

describe('featureColumns', () => {
  it(`takes ${MAX_FEATURES} columns and refuses one more, counted after exclude`, () => {
    expect(featureColumns(names(MAX_FEATURES), [])).toHaveLength(MAX_FEATURES);
    expect(() => featureColumns(names(MAX_FEATURES + 1), [])).toThrow(`${MAX_FEATURES + 1} feature columns; a model takes at most ${MAX_FEATURES}`);
    expect(featureColumns(names(MAX_FEATURES + 1), ['c0'])).toHaveLength(MAX_FEATURES);
  });
});

describe('uploads of more than MAX_UPLOAD_VALUES values', () => {
  it('are refused as CSV, JSON and NDJSON, creating or appending (413 BODY_TOO_LARGE naming how many rows a request may carry), and nothing is stored', async () => {
    const { app } = running.service;
    const rows = MAX_VALUES / 10;
    const hint = `the body holds more than ${MAX_VALUES} values (rows x columns; MAX_UPLOAD_VALUES), each held in memory until stored: send at most ${rows} rows of its 10 columns a request`;
    const csv = await request(app).put('/v1/datasets/long').set('content-type', 'text/csv').send(csvOf(10, rows + 1));
    expect(csv.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(hint) });
    const json = await request(app).put('/v1/datasets/long').send({ records: Array.from({ length: rows + 1 }, (_, i) => recordOf(10, i)) });
    expect(json.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(hint) });
    const ndjson = await request(app).put('/v1/datasets/long').set('content-type', 'application/x-ndjson').send(Array.from({ length: rows + 1 }, (_, i) => JSON.stringify(recordOf(10, i))).join('\n'));
    expect(ndjson.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(hint) });
    expect((await request(app).get('/v1/datasets/long')).status).toBe(404);
    // At the limit it is taken, and appends are held to it too.
    expect((await request(app).put('/v1/datasets/long').set('content-type', 'text/csv').send(csvOf(10, rows))).body.rows).toBe(rows);
    const append = await request(app).post('/v1/datasets/long/records').set('content-type', 'text/csv').send(csvOf(10, rows + 1));
    expect(append.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(hint) });
    expect((await request(app).get('/v1/datasets/long')).body.rows).toBe(rows);
  });

  it('a dataset of more than MAX_TRAINING_VALUES values is not trained on: the request is a 413 saying how many rows would do, and a job (a schedule\'s) fails at once without reading it', async () => {
    const { app } = running.service;
    const refused = await request(app).post('/v1/models/long/train').send({ dataset: 'long' });
    expect(refused.body).toMatchObject({ status: 413, code: 'DATASET_TOO_LARGE', pointer: '/dataset', detail: expect.stringContaining(`training takes at most ${MAX_TRAINING} (MAX_TRAINING_VALUES)`) });
    expect(refused.body.detail).toContain(`keep at most ${MAX_TRAINING / 10} rows`);
    const scheduled = await request(app).put('/v1/models/long/schedule').send({ cron: '0 3 * * *', dataset: 'long' });
    expect(scheduled.body).toMatchObject({ status: 413, code: 'DATASET_TOO_LARGE' });
    // The API's description lists the answer on both routes.
    const paths = (await request(app).get('/openapi.json')).body.paths;
    expect(Object.keys(paths['/v1/models/{name}/train'].post.responses)).toContain('413');
    expect(Object.keys(paths['/v1/models/{name}/schedule'].put.responses)).toContain('413');
    let read = 0;
    const datasets = { info: async () => ({ rows: 20_000, columns: names(10) }), records: async () => (read++, { records: [], info: {} }) } as unknown as DatasetStore;
    const models = { versionOfJob: async () => null, deletedAt: async () => null, versions: async () => [] } as unknown as ModelStore;
    await expect(runTrainJob({ kind: 'train', model: 'm', dataset: 'long', config: {} }, { datasets, models, maxValues: MAX_TRAINING, trainer: async () => Promise.reject(new Error('not reached')) }, 'j1', new Date())).rejects.toMatchObject({ code: 'DATASET_TOO_LARGE' });
    expect(read).toBe(0);
  });
});

describe('concurrent dataset uploads', () => {
  it('past MAX_CONCURRENT_UPLOADS being read, one more is a 503 UPLOADS_BUSY with a Retry-After before its body is read; once they end, uploads are taken again', async () => {
    const { server, base } = await listen(running.service.app);
    try {
      // Two uploads whose bodies are still arriving.
      const slow = [0, 1].map((k) => {
        const req = httpRequest(`${base}/v1/datasets/slow${k}`, { method: 'PUT', headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } });
        const answer = new Promise<number>((resolve, reject) => {
          req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
        });
        req.write('a,b\n1,2\n');
        return { req, answer };
      });
      await new Promise((r) => setTimeout(r, 200));
      const busy = await fetch(`${base}/v1/datasets/third`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' });
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe('10');
      expect(busy.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await busy.json()).toMatchObject({ code: 'UPLOADS_BUSY', detail: expect.stringContaining('2 dataset uploads are being read on this replica (MAX_CONCURRENT_UPLOADS)') });
      // Reading is not writing: a scoring or listing request meanwhile is served.
      expect((await fetch(`${base}/v1/datasets`)).status).toBe(200);
      for (const { req } of slow) req.end('3,4\n');
      expect(await Promise.all(slow.map((s) => s.answer))).toEqual([200, 200]);
      expect((await fetch(`${base}/v1/datasets/third`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' })).status).toBe(200);
      // A client that leaves mid-upload frees its place.
      const gone = [0, 1].map((k) => {
        const req = httpRequest(`${base}/v1/datasets/gone${k}`, { method: 'PUT', headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } });
        req.on('error', () => undefined);
        req.write('a,b\n1,2\n');
        return req;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(`${base}/v1/datasets/fourth`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' })).status).toBe(503);
      for (const req of gone) req.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(`${base}/v1/datasets/fourth`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' })).status).toBe(200);
      expect((await fetch(`${base}/v1/datasets/gone0`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});

describe('fewAtOnce', () => {
  it('holds an upload\'s place until its handler is done, though its client left after sending the body; a client gone before its body ended frees it at once', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    const app = express();
    app.put(
      '/up',
      fewAtOnce(
        1,
        express.text({ type: '*/*' }),
      )(async (_req, res) => {
        handled++;
        await gate;
        res.send('stored');
      }),
    );
    app.use((err: AppError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ code: err.code });
    });
    const { server, base } = await listen(app);
    try {
      const { port } = new URL(base);
      // The whole body, then the connection closed without waiting for the answer.
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.end('PUT /up HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', () => resolve());
        });
        socket.on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(handled).toBe(1);
      expect((await fetch(`${base}/up`, { method: 'PUT', body: 'x' })).status).toBe(503);
      release();
      await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`${base}/up`, { method: 'PUT', body: 'x' })).status).toBe(200);
      expect(handled).toBe(2);
      // A body cut off: its place is free again, though its reader never called back.
      const cut = connect(Number(port), '127.0.0.1', () => cut.write('PUT /up HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\nhel'));
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(`${base}/up`, { method: 'PUT', body: 'x' })).status).toBe(503);
      cut.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(`${base}/up`, { method: 'PUT', body: 'x' })).status).toBe(200);
      expect(handled).toBe(3);
    } finally {
      server.close();
    }
  });
});
