import { startApi, startRedis } from '../helpers/processes';

/** An API process of distributed mode whose Redis goes away: 503s meanwhile, and a clean exit on SIGTERM. */
describe('distributed mode without Redis', () => {
  it('answers 503 problems to every store route, the schedule ones included, and exits 0 on SIGTERM', async () => {
    const redis = await startRedis();
    const api = await startApi({ REDIS_URL: redis.url, SHUTDOWN_MS: '2000' });
    try {
      await redis.stop();
      for (let i = 0; i < 10; i++) {
        for (const [method, path] of [['GET', '/v1/models/m/schedule'], ['DELETE', '/v1/models/m/schedule'], ['GET', '/v1/datasets'], ['GET', '/v1/jobs']] as const) {
          const res = await fetch(`${api.url}${path}`, { method, signal: AbortSignal.timeout(10_000) });
          expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 503, expect.stringContaining('application/problem+json')]);
          expect(((await res.json()) as { code: string }).code).toBe('STORE_UNAVAILABLE');
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await api.stop('SIGTERM');
      expect(api.child.exitCode).toBe(0);
      expect(api.output()).not.toContain('unhandled');
    } finally {
      await api.stop('SIGKILL');
      await redis.stop();
    }
  });
});

describe('distributed mode with a Redis that stops answering', () => {
  it('exits on SIGTERM within SHUTDOWN_MS and a few seconds, not when Redis answers again', async () => {
    const redis = await startRedis();
    const api = await startApi({ REDIS_URL: redis.url, SHUTDOWN_MS: '2000' });
    try {
      // Stopped, not gone: the connections stay open and nothing answers (a stall, a partition).
      redis.child.kill('SIGSTOP');
      // A request that waits on Redis meanwhile, as traffic would.
      const waiting = fetch(`${api.url}/v1/datasets`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
      // SHUTDOWN_MS for the request in flight, then at most 3 s for Redis to take the closes.
      await Promise.race([api.stop('SIGTERM'), new Promise((r) => setTimeout(r, 2000 + 3000 + 2000))]);
      expect(api.child.exitCode).toBe(0);
      expect(api.output()).toContain('shutdown: Redis did not take the closes: exiting without them');
      await waiting;
    } finally {
      redis.child.kill('SIGCONT');
      await api.stop('SIGKILL');
      await redis.stop();
    }
  }, 30_000);
});
