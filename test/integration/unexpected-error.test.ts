import request from 'supertest';
import { createLogger } from '../../src/logger';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

describe('an unexpected error in a route', () => {
  let running: EmbeddedService;
  const lines: string[] = [];

  beforeAll(async () => {
    running = await startEmbedded({}, createLogger('error', 'nce-ood', { write: (l: string) => lines.push(l) }));
  });
  afterAll(() => running.close());

  it('answers 500 INTERNAL without its message or stack, and logs its stack with the request id', async () => {
    const { service } = running;
    const failure = new TypeError('cannot read "x" of undefined in /srv/secret/registry.js');
    service.store.names = () => Promise.reject(failure);
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

  it('logs a store error without the command arguments its client attached (records, in an append)', async () => {
    const { service } = running;
    // As ioredis fails a script: the command and its arguments on the error, the records among them.
    const failure = Object.assign(new Error('ERR value is not an integer or out of range'), { command: { name: 'eval', args: ['script', '2', '{"amount":9500.25,"channel":"web"}'] } });
    failure.cause = Object.assign(new Error('cause'), { command: { name: 'eval', args: ['{"amount":9500.25}'] } });
    service.store.names = () => Promise.reject(failure);
    lines.length = 0;
    expect((await request(service.app).get('/v1/models').set('x-request-id', 'req-redis')).status).toBe(500);
    const logged = lines.find((l) => l.includes('req-redis'));
    expect(logged).toContain('not an integer or out of range');
    expect(logged).not.toContain('9500.25');
  });
});
