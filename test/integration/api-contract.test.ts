import { spawnSync } from 'node:child_process';
import request from 'supertest';
import type { z } from 'zod';
import { openApiDocument } from '../../src/api/openapi';
import { errorTable } from '../../src/errors';
import { problemType } from '../../src/api/problems';
import { ANSWERS } from '../../src/api/responses';
import { normalRecords } from '../helpers/data';
import { type EmbeddedService, jobFinished, startEmbedded } from '../helpers/service';

let running: EmbeddedService;

/**
 * Validates an OpenAPI document with @apidevtools/swagger-parser in a child process (its
 * dependencies are ES modules, which Node loads and Jest's module system does not): null when
 * valid, else the validator's message.
 */
function openApiProblem(doc: unknown): string | null {
  const script = `require('@apidevtools/swagger-parser').validate(JSON.parse(require('node:fs').readFileSync(0, 'utf8'))).then(() => process.stdout.write('valid'), (e) => process.stdout.write(e.message))`;
  const out = spawnSync(process.execPath, ['-e', script], { input: JSON.stringify(doc), encoding: 'utf8', cwd: __dirname });
  return out.stdout === 'valid' ? null : out.stdout + out.stderr;
}

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

describe('the OpenAPI document', () => {
  it('validates with a real OpenAPI validator, and every 2xx answer with a body has a schema', async () => {
    const doc = openApiDocument();
    expect(openApiProblem(doc)).toBeNull();
    // The validator does find what is wrong in a broken document.
    expect(openApiProblem({ ...doc, paths: { '/x': { get: { responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Nothing' } } } } } } } } })).toMatch(/Nothing|description/);
    const bare: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, answer] of Object.entries(op.responses ?? {})) {
          if (!/^2/.test(status) || status === '204') continue;
          if (!answer.content || Object.values(answer.content).some((c) => c.schema === undefined)) bare.push(`${method} ${path} ${status}`);
        }
      }
    }
    expect(bare).toEqual([]);
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    // Every API route refuses a query parameter it does not take (400) and answers 503 when the
    // store cannot be reached; a full queue's 503 and a rate limit's 429 carry a Retry-After.
    const ops = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, item]) => Object.entries(item).filter(([m]) => m !== 'parameters').map(([method, op]) => ({ at: `${method} ${path}`, op })));
    expect(ops.filter(({ op }) => !('400' in op.responses && '503' in op.responses)).map(({ at }) => at)).toEqual([]);
    expect(ops.find(({ at }) => at === 'post /v1/models/{name}/train')?.op.responses['503'].headers).toHaveProperty('Retry-After');
    // The app sets a Retry-After on every 503, /readyz's "not ready" among them: the document says so for each.
    const every = Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([m]) => m !== 'parameters')
        .map(([method, op]) => ({ at: `${method} ${path}`, unavailable: op.responses?.['503'] })),
    );
    expect(every.find(({ at }) => at === 'get /readyz')?.unavailable).toBeDefined();
    expect(every.filter(({ unavailable }) => unavailable !== undefined && !unavailable.headers?.['Retry-After']).map(({ at }) => at)).toEqual([]);
  });

  it('gives every JSON request body an example a user can send as it is: the train example trains with the defaults', async () => {
    const doc = openApiDocument();
    type Body = { content: Record<string, { example?: unknown }> };
    const bodies = Object.entries(doc.paths as Record<string, Record<string, { requestBody?: Body }>>).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, op]) => (op.requestBody?.content['application/json'] ? [{ at: `${method} ${path}`, json: op.requestBody.content['application/json'] }] : [])),
    );
    // Without one, API consoles build a body from the schema with a value for every optional key.
    expect(bodies.filter((b) => b.json.example === undefined && !('examples' in b.json)).map((b) => b.at)).toEqual([]);
    const { app } = running.service;
    expect((await request(app).put('/v1/datasets/payments').send({ records: normalRecords(60, 2, 9) })).status).toBe(200);
    const example = bodies.find((b) => b.at === 'post /v1/models/{name}/train')?.json.example;
    const accepted = await request(app).post('/v1/models/example/train').send(example as object);
    expect(accepted.status).toBe(202);
    expect(await jobFinished(app, accepted.body.jobId)).toMatchObject({ state: 'completed' });
  });

  it('describes what the routes really answer: each 2xx body parses with its answer schema', async () => {
    const { app } = running.service;
    const checked = new Set<string>();
    const holds = async <T extends keyof typeof ANSWERS>(name: T, res: request.Response, status = 200): Promise<z.infer<(typeof ANSWERS)[T]>> => {
      expect(res.status).toBe(status);
      checked.add(name);
      return ANSWERS[name].parse(res.body) as z.infer<(typeof ANSWERS)[T]>;
    };
    await holds('RootAnswer', await request(app).get('/'));
    await holds('HealthAnswer', await request(app).get('/healthz'));
    await holds('ReadyAnswer', await request(app).get('/readyz'));
    // A category column too: its contract lists the categories seen.
    const withChannel = (records: Record<string, unknown>[]) => records.map((r, i) => ({ ...r, channel: ['web', 'app', 'store'][i % 3] }));
    const created = await holds('DatasetAnswer', await request(app).put('/v1/datasets/d').send({ records: withChannel(normalRecords(80, 2, 1)) }));
    expect(created.schema?.find((c) => c.name === 'channel')).toMatchObject({ kind: 'categorical', categories: expect.arrayContaining(['web', 'app', 'store']) });
    await holds('DatasetAnswer', await request(app).post('/v1/datasets/d/records').send({ records: withChannel(normalRecords(3, 2, 2)) }));
    await holds('DatasetAnswer', await request(app).get('/v1/datasets/d'));
    await holds('DatasetListAnswer', await request(app).get('/v1/datasets'));
    const { jobId } = await holds('TrainAnswer', await request(app).post('/v1/models/m/train').send({ dataset: 'd', config: { epochs: 2, contamination: 0.05 } }), 202);
    await jobFinished(app, jobId);
    await holds('JobAnswer', await request(app).get(`/v1/jobs/${jobId}`));
    await holds('JobListAnswer', await request(app).get('/v1/jobs?model=m'));
    await holds('ModelListAnswer', await request(app).get('/v1/models'));
    const model = await holds('ModelAnswer', await request(app).get('/v1/models/m'));
    expect(model.calibration.contamination).toBe(0.05);
    // What the threshold is expected to flag: the stated 5%, plus targetFpr of the rest, at least.
    expect(model.calibration.expectedFlaggedShare).toBeGreaterThanOrEqual(0.05 + 0.01 * 0.95 - 1e-12);
    const { versions } = await holds('VersionListAnswer', await request(app).get('/v1/models/m/versions'));
    await holds('PromoteAnswer', await request(app).post(`/v1/models/m/versions/${versions[0]!.version}/promote`));
    await holds('ScheduleAnswer', await request(app).put('/v1/models/m/schedule').send({ cron: '0 3 * * *', dataset: 'd' }));
    await holds('ScheduleAnswer', await request(app).get('/v1/models/m/schedule'));
    expect((await holds('ScheduleListAnswer', await request(app).get('/v1/schedules'))).schedules.map((s) => s.model)).toEqual(['m']);
    await holds('ScoreAnswer', await request(app).post('/v1/models/m/score').send({ records: withChannel(normalRecords(3, 2, 3)) }));
    await holds('ScoreAnswer', await request(app).post('/v1/models/m/score').send({ records: withChannel(normalRecords(300, 2, 3)) }));
    await holds('ScoreAnswer', await request(app).post('/v1/models/m/score').send({ records: withChannel(normalRecords(2, 2, 3)), explain: true }));
    await holds('ConsoleOverviewAnswer', await request(app).get('/v1/console'));
    await holds('ModelConsoleAnswer', await request(app).get('/v1/models/m/console'));
    // Every answer schema the document names was held to a real answer.
    expect([...checked].sort()).toEqual(Object.keys(ANSWERS).sort());
  });
});

describe('problem types', () => {
  it('every code has a status and a page at its type URI that says what it means; an unknown one is a 404', async () => {
    const { app } = running.service;
    for (const { code, status, title, help } of errorTable()) {
      expect(status).toBeGreaterThanOrEqual(400);
      expect(help.length).toBeGreaterThan(20);
      const page = await request(app).get(problemType(code));
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.text).toContain(code);
      expect(page.text).toContain(title);
    }
    const unknown = await request(app).get('/problems/no-such-problem');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'NOT_FOUND', type: problemType('NOT_FOUND') });
  });
});
