import pino from 'pino';
import request from 'supertest';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

describe('an unexpected error in a route', () => {
  let running: EmbeddedService;
  const lines: string[] = [];

  beforeAll(async () => {
    running = await startEmbedded({}, pino({ level: 'error' }, { write: (l: string) => lines.push(l) }));
  });
  afterAll(() => running.close());

  it('answers 500 INTERNAL without its message or stack, and logs its stack with the request id', async () => {
    const { service } = running;
    const failure = new TypeError('cannot read "x" of undefined in /srv/secret/registry.js');
    service.store.list = () => Promise.reject(failure);
    const res = await request(service.app).get('/v1/models').set('x-request-id', 'req-500');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toEqual({ type: '/problems/internal', title: 'Internal error', status: 500, detail: 'Internal error', code: 'INTERNAL', instance: '/v1/models' });
    expect(res.text).not.toContain('secret');
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; reqId?: string; err?: { message: string; stack: string } }).find((l) => l.msg === 'unexpected error');
    expect(logged).toMatchObject({ reqId: 'req-500', err: { message: failure.message } });
    expect(logged?.err?.stack).toContain('TypeError');
    expect(logged?.err?.stack).toContain('unexpected-error.test.ts');
  });
});
