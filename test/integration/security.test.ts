import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { openApiDocument } from '../../src/api/openapi';
import { PAGE_CSP } from '../../src/ui';
import { initBackend } from '../../src/nce';
import { SERVICE_LOCK } from '../../src/store';

const ADMIN = 'admin-key-SECRET-1234';
const SCORER = 'score-key-SECRET-5678';
const VALUE = 'SENSITIVE-VALUE-0042';
let dir: string;
let service: Service;
let logs = '';
let limited: Service;

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-sec-'));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  service = await composeEmbedded(
    loadSettings({ MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data'), API_KEYS: `admin:${ADMIN},score:${SCORER}`, LOG_LEVEL: 'trace', MAX_DATASET_BYTES: String(1 << 20) }),
    pino({ level: 'trace' }, sink),
    backend,
  );
  limited = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'm2'), DATASETS_DIR: join(dir, 'd2'), API_KEYS: `admin:${ADMIN},score:${SCORER}`, RATE_LIMIT_PER_MINUTE: '3' }), pino({ level: 'silent' }), backend);
});

afterAll(async () => {
  await service.close();
  await limited.close();
  await rm(dir, { recursive: true, force: true });
});

/** Every route of the OpenAPI document with the scope it needs (public ones excluded). */
function routes(): { method: string; path: string; scope: 'score' | 'admin' }[] {
  const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
  const out: { method: string; path: string; scope: 'score' | 'admin' }[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops).filter((m) => ['get', 'put', 'post', 'delete'].includes(m))) {
      if ((ops[method] as { security?: unknown[] }).security?.length === 0) continue;
      const concrete = path.replace('{name}', 'm1').replace('{version}', 'v1').replace('{id}', 'j1');
      out.push({ method, path: concrete, scope: method === 'get' || path.endsWith('/score') ? 'score' : 'admin' });
    }
  }
  return out;
}

describe('security', () => {
  it('every route of the API needs a key; score keys only read and score, admin keys do everything', async () => {
    const all = routes();
    expect(all.length).toBeGreaterThanOrEqual(14);
    for (const r of all) {
      const call = (key?: string) => {
        const req = (request(service.app) as unknown as Record<string, (p: string) => request.Test>)[r.method](r.path);
        return key ? req.set('authorization', `Bearer ${key}`) : req;
      };
      const anonymous = await call();
      expect({ route: `${r.method} ${r.path}`, status: anonymous.status, type: anonymous.type }).toEqual({ route: `${r.method} ${r.path}`, status: 401, type: 'application/problem+json' });
      expect((await call('not-a-key-at-all')).status).toBe(401);
      const scorer = await call(SCORER);
      expect({ route: `${r.method} ${r.path}`, forbidden: scorer.status === 403 }).toEqual({ route: `${r.method} ${r.path}`, forbidden: r.scope === 'admin' });
      const admin = await call(ADMIN);
      expect([401, 403]).not.toContain(admin.status);
    }
  });

  it('takes the Bearer scheme in any case, and X-API-Key', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect((await request(service.app).get('/v1/models').set('authorization', `${scheme} ${SCORER}`)).status).toBe(200);
    }
    expect((await request(service.app).get('/v1/models').set('x-api-key', SCORER)).status).toBe(200);
    expect((await request(service.app).get('/v1/models').set('authorization', `Basic ${SCORER}`)).status).toBe(401);
  });

  it('answers with security headers and a request id', async () => {
    const res = await request(service.app).get('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    // The HTML pages run scripts and styles of this service only, none inline.
    for (const path of ['/docs', '/ui/', '/ui/models/m1']) {
      const page = await request(service.app).get(path);
      expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
    }
    expect(PAGE_CSP).toContain("script-src 'self';");
    expect(PAGE_CSP).not.toContain('unsafe');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await request(service.app).get('/healthz').set('x-request-id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
  });

  it('refuses names that could escape the stores: traversal, absolute paths, NUL, Redis key separators', async () => {
    const bad = ['..', '..%2F..%2Fetc', '%2Fetc%2Fpasswd', 'a%00b', 'a:b', 'a*', '.hidden', '-x', 'x'.repeat(65), '%C0%AE%C0%AE'];
    for (const name of bad) {
      const put = await request(service.app).put(`/v1/datasets/${name}`).set('authorization', `Bearer ${ADMIN}`).send({ records: [{ a: 1 }] });
      expect({ name, status: put.status, body: put.body }).toMatchObject({ name, status: put.status >= 400 && put.status < 500 ? put.status : 'not 4xx' });
      const train = await request(service.app).post(`/v1/models/${name}/train`).set('authorization', `Bearer ${ADMIN}`).send({ dataset: 'd' });
      expect(train.status).toBeGreaterThanOrEqual(400);
      expect(train.status).toBeLessThan(500);
    }
    // Nothing was written anywhere.
    expect(await readdir(dir)).toEqual(expect.not.arrayContaining(['etc', 'passwd']));
    // The service made its folders at start-up (and claimed them); nothing else is in them.
    expect(await readdir(join(dir, 'data'))).toEqual([SERVICE_LOCK]);
  });

  it('keeps record values and keys out of the logs', async () => {
    await request(service.app).put('/v1/datasets/logged').set('authorization', `Bearer ${ADMIN}`).send({ records: [{ a: VALUE, b: 1 }, { a: 'x', b: 2 }] });
    await request(service.app).put('/v1/datasets/logged2').set('authorization', `Bearer ${ADMIN}`).send({ records: [{ a: 1 }, { a: [VALUE] }] });
    await request(service.app).post('/v1/models/nope/score').set('authorization', `Bearer ${SCORER}`).send({ records: [{ a: VALUE }] });
    await request(service.app).get('/v1/models').set('x-api-key', 'wrong-SECRET-key');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [VALUE, ADMIN, SCORER, 'wrong-SECRET-key', 'SECRET']) expect(logs).not.toContain(secret);
  });

  it('refuses a body over the limit from its size, before parsing it: 9 MiB of invalid JSON (the default limit is 8 MiB) is 413, not 400', async () => {
    const res = await request(service.app).post('/v1/models/m/score').set('authorization', `Bearer ${SCORER}`).set('content-type', 'application/json').send('x'.repeat(9 << 20));
    expect(res.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(`the limit of ${8 << 20} bytes (MAX_BODY_BYTES): send fewer records a request`) });
    // A dataset upload names its own limit, MAX_DATASET_BYTES (1 MiB here), on each way a body is read.
    const upload = `the limit of ${1 << 20} bytes (MAX_DATASET_BYTES): send fewer rows a request and append the rest`;
    for (const [type, body] of [
      ['application/json', `{"records":[${'{"a":1},'.repeat(1 << 18)}{"a":1}]}`],
      ['text/csv', `a\n${'1\n'.repeat(1 << 20)}`],
    ]) {
      const put = await request(service.app).put('/v1/datasets/big').set('authorization', `Bearer ${ADMIN}`).set('content-type', type).send(body);
      expect(put.body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(upload) });
    }
    expect(await service.datasets.info('big')).toBeNull();
  });

  it.each(['text/csv', 'application/x-ndjson'])('stops a chunked %s upload (no Content-Length) at the dataset limit while it streams: 413, nothing stored', async (type) => {
    const server = service.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    const answer = await new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/datasets/chunked', headers: { 'content-type': type, 'transfer-encoding': 'chunked', authorization: `Bearer ${ADMIN}` } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      const line = type === 'text/csv' ? '1,2\n' : '{"a":1,"b":2}\n';
      if (type === 'text/csv') req.write('a,b\n');
      let i = 0;
      // 4 MB in all, over the 1 MiB dataset limit.
      const pump = (): void => {
        while (i++ < (4 << 20) / line.length) if (!req.write(line)) return void req.once('drain', pump);
        req.end();
      };
      pump();
    });
    server.close();
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'BODY_TOO_LARGE', detail: expect.stringContaining(`the limit of ${1 << 20} bytes (MAX_DATASET_BYTES)`) });
    expect(await service.datasets.info('chunked')).toBeNull();
  });

  it('answers a bad row early in a large streamed CSV with the 400 naming its line, not a reset connection', async () => {
    const csv = 'a,b\n1,2\n3\n' + '4,5\n'.repeat(200_000);
    const res = await request(service.app).put('/v1/datasets/early-error').set('authorization', `Bearer ${ADMIN}`).set('content-type', 'text/csv').send(csv);
    expect(res.body).toMatchObject({ status: 400, code: 'MALFORMED_BODY', detail: expect.stringContaining('body:3') });
  });

  it('limits requests per key when RATE_LIMIT_PER_MINUTE is set: 429 problem+json, other keys unaffected', async () => {
    const get = (key: string) => request(limited.app).get('/v1/models').set('authorization', `Bearer ${key}`);
    for (let i = 0; i < 3; i++) expect((await get(SCORER)).status).toBe(200);
    const over = await get(SCORER);
    expect(over.status).toBe(429);
    expect(over.type).toBe('application/problem+json');
    expect(over.body).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(over.headers['retry-after']).toBeDefined();
    expect((await get(ADMIN)).status).toBe(200);
    // The key counts in its bucket however its scheme is spelled (as the auth check reads it), not in its IP address's.
    expect((await request(limited.app).get('/v1/models').set('authorization', `bearer  ${SCORER}`)).status).toBe(429);
    expect((await request(limited.app).get('/healthz')).status).toBe(200);
    // Made-up keys get no bucket of their own: they share their IP address's.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`made-up-key-${i}-xxxxxxxx`)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
