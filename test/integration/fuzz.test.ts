import type { Server } from 'node:http';
import fc from 'fast-check';
import type { Service } from '../../src/compose';
import { toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/**
 * Hostile input, generated: 10,000+ requests with random and adversarial bodies, content types
 * and paths. Every answer must be a success or a documented 4xx problem+json; never a 5xx, never a
 * crash; a rejected request leaves the stored state as it was; no prototype is polluted.
 */
const DOCUMENTED = new Map<string, number>([
  ['INVALID_RECORD', 400],
  ['INVALID_REQUEST', 400],
  ['MALFORMED_BODY', 400],
  ['BODY_TOO_LARGE', 413],
  ['BATCH_TOO_LARGE', 413],
  ['UNSUPPORTED_MEDIA_TYPE', 415],
  ['METHOD_NOT_ALLOWED', 405],
  ['NOT_ACCEPTABLE', 406],
  ['MODEL_NOT_FOUND', 404],
  ['DATASET_NOT_FOUND', 404],
  ['NOT_FOUND', 404],
  ['VERSION_NOT_FOUND', 404],
]);
const MAX_BODY = 65_536;
let running: EmbeddedService;
let service: Service;
let server: Server;
let base: string;
let requests = 0;

beforeAll(async () => {
  running = await startEmbedded({ MAX_BODY_BYTES: String(MAX_BODY), MAX_DATASET_BYTES: String(MAX_BODY), MAX_BATCH_RECORDS: '100' });
  service = running.service;
  await service.store.save('m', toArtifact(await train(normalRecords(100, 3, 1), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 100, backend: running.backend }));
  await service.datasets.put('d', ['f0', 'f1', 'f2'], normalRecords(30, 3, 2));
  ({ server, base } = await listen(service.app));
});

afterAll(async () => {
  server?.close();
  await running?.close();
  // The acceptance floor: at least 10,000 generated requests.
  expect(requests).toBeGreaterThanOrEqual(10_000);
});

/** What a rejected request must not change. */
async function state(): Promise<string> {
  const datasets = await service.datasets.list();
  const models = await Promise.all((await service.store.list()).map(async (m) => [m, await service.store.currentVersion(m), await service.store.versions(m)]));
  // A schedule's nextRun moves on by itself whenever it fires; what it is, is the state.
  const schedule = await service.scheduler.get('m');
  return JSON.stringify({ datasets: datasets.map((d) => [d.name, d.rows, d.columns]), models, schedule: schedule && [schedule.cron, schedule.dataset, schedule.config] });
}

const ROUTES: [string, string][] = [
  ['POST', '/v1/models/m/score'],
  ['PUT', '/v1/datasets/fz'],
  ['POST', '/v1/datasets/d/records'],
  ['POST', '/v1/models/m/train'],
  ['PUT', '/v1/models/m/schedule'],
  ['POST', '/v1/models/m/versions/nope/promote'],
  ['GET', '/v1/jobs/nope'],
  ['GET', '/v1/models/m'],
];

async function send(method: string, path: string, body: string | Uint8Array | undefined, type: string | undefined): Promise<void> {
  const before = await state();
  const headers: Record<string, string> = {};
  if (type !== undefined) headers['content-type'] = type;
  const where = `${method} ${path} [${type}] ${String(body).slice(0, 120)}`;
  // A hung request fails with its input instead of timing the whole test out.
  const res = await fetch(`${base}${path}`, { method, headers, signal: AbortSignal.timeout(10_000), ...(body === undefined || method === 'GET' ? {} : { body }) }).catch((e: unknown) => {
    throw new Error(`no answer (${e instanceof Error ? e.message : String(e)}) for ${where}`);
  });
  requests++;
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${res.status} for ${where}: ${text.slice(0, 300)}`);
  if (res.status >= 400) {
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(text) as { code: string; status: number; type: string; detail: string };
    if (DOCUMENTED.get(problem.code) !== res.status || problem.status !== res.status) throw new Error(`undocumented ${res.status} ${problem.code} for ${where}`);
    if ((await state()) !== before) throw new Error(`rejected request changed the state: ${where}`);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).toEqual({});
}

const route = fc.constantFrom(...ROUTES);
const contentType = fc.constantFrom('application/json', 'text/csv', 'application/x-ndjson', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', '', 'application/*');
const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'f0', 'f1', 'f2', 'polluted', 'records', 'toString', ''), fc.string({ maxLength: 12 }));
const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER, 5e-324, 0, -0),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '', ' ', '\u0000', '\ud800'),
  fc.constant(null),
  fc.boolean(),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 3 })),
})).v;
const record = fc.dictionary(key, value, { maxKeys: 5 });
const structured = fc.oneof(
  fc.record({ records: fc.array(record, { maxLength: 8 }) }, { requiredKeys: [] }),
  fc.record({ records: fc.array(fc.record({ f0: leaf, f1: leaf, f2: leaf }), { minLength: 1, maxLength: 5 }), explain: fc.oneof(fc.boolean(), leaf) }),
  // Never the stored dataset "d": an accepted training would change the state later, asynchronously.
  fc.record({ dataset: fc.oneof(fc.string().filter((x) => x !== 'd'), fc.constantFrom('../d', 'd\u0000', '', 'D')), config: value }, { requiredKeys: [] }),
  fc.record({ cron: fc.oneof(fc.string(), fc.constantFrom('* * * * *', '61 * * * *', '*/0 * * * * *')), dataset: fc.string(), config: value }, { requiredKeys: [] }),
  value,
);
/** Hand-written spellings JSON.parse refuses or that parse to non-finite numbers. */
const token = fc.constantFrom('NaN', '-NaN', 'Infinity', '-Infinity', '+Infinity', '1e999', '-1e999', '1e-999', 'nan', 'inf', '0x10', '+1', '.5', '01', '1.', '"\\ud800"', '"\\u0000"', 'undefined', 'null', '[]', '{}', 'true');
const raw = fc.oneof(
  token.map((t) => `{"records":[{"f0":${t},"f1":0,"f2":0}]}`),
  token.map((t) => `{"records":[{"f0":0,"f1":0,"f2":0}],"explain":${t}}`),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), token).map(([k, t]) => `{"${k}":{"polluted":${t}},"records":[{"${k}":{"polluted":1},"f0":1,"f1":2,"f2":3}]}`),
  fc.constantFrom('{"records":[{"f0":1,"f0":2,"f1":0,"f2":0}]}', '{"records":[],"records":[{"f0":1}]}', '{"__proto__":{"polluted":true}}'),
  fc.integer({ min: 1, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 3000 }).map((n) => '{"records":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.integer({ min: 1, max: 3000 }).map((n) => `{"records":[{"f0":${'['.repeat(n)}1${']'.repeat(n)}}]}`),
  fc.integer({ min: MAX_BODY - 100, max: MAX_BODY * 3 }).map((n) => `{"records":[{"f0":"${'x'.repeat(n)}"}]}`),
  fc.integer({ min: 1, max: 400 }).map((n) => `{"records":[${Array.from({ length: n }, () => '{"f0":1,"f1":2,"f2":3}').join(',')}]}`),
  fc.string({ maxLength: 200 }),
  fc.json(),
  fc.constant(''),
);
const csv = fc.oneof(
  fc.array(fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('"', '""', '"a,b"', '\n', '\r\n', '\ufeff', 'NaN', '1e999', ''))), { maxLength: 6 }).map((rows) => rows.map((r) => r.join(',')).join('\n')),
  fc.constantFrom('\ufeffa,b\n1,2\n', 'a,b\n1,2\n3\n', 'a,a\n1,2\n', '"a\n1\n', 'a\n"1\n2"\n', ',\n,\n', 'a,b\r\n1,"x\ny"\r\n', '\n\n\n', 'a;b\n1;2', '__proto__,constructor\n1,2\n'),
);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom(Uint8Array.from([0xc0, 0xae]), Uint8Array.from([0xff, 0xfe, 0x7b, 0x00]), Uint8Array.from([0x7b, 0x22, 0x72, 0xe9, 0x22, 0x3a, 0x31, 0x7d])),
);

describe('fuzzing every endpoint with hostile bodies', () => {
  it('structured JSON bodies of every shape (4,000 requests)', async () => {
    await fc.assert(fc.asyncProperty(route, structured, (r, b) => send(r[0], r[1], JSON.stringify(b), 'application/json')), { numRuns: 4000 });
  });

  it('hand-spelt JSON: NaN/Infinity in every spelling, duplicate and prototype keys, deep nesting, huge strings (3,000 requests)', async () => {
    await fc.assert(fc.asyncProperty(route, raw, contentType, (r, b, t) => send(r[0], r[1], b, t)), { numRuns: 3000 });
  });

  it('CSV with quotes, newlines, BOM and ragged rows, and NDJSON (1,500 requests)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(ROUTES[1] as [string, string], ROUTES[2] as [string, string], ROUTES[0] as [string, string]), csv, fc.constantFrom('text/csv', 'application/x-ndjson'), (r, b, t) => send(r[0], r[1], b, t)),
      { numRuns: 1500 },
    );
  });

  it('invalid UTF-8, random bytes, empty bodies and wrong content types (1,000 requests)', async () => {
    await fc.assert(fc.asyncProperty(route, bytes, fc.option(contentType, { nil: undefined }), (r, b, t) => send(r[0], r[1], b, t)), { numRuns: 1000 });
  });

  it('hostile paths and names (1,000 requests)', async () => {
    const segment = fc.oneof(fc.string({ maxLength: 70 }).map(encodeURIComponent), fc.constantFrom('..', '%2e%2e', '%2F', '%00', '%C0%AE', '%', '%zz', 'a:b', '*', '~', '.', 'x'.repeat(65)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE'), fc.constantFrom('/v1/datasets/', '/v1/models/', '/v1/jobs/', '/v1/models/m/versions/'), segment, fc.constantFrom('', '/score', '/train', '/records', '/schedule', '/promote'), (m, prefix, s, suffix) =>
        send(m, `${prefix}${s}${suffix}`, '{}', 'application/json'),
      ),
      { numRuns: 1000 },
    );
  });
});
