import { AppError } from '../../src/errors';
import { COMMAND_TIMEOUT_MS, guardRedis, openRedis, RedisModelStore } from '../../src/store';
import { eventually, freezableProxy, startRedis } from '../helpers/processes';

/**
 * Connections whose peer vanished without a word (no reset: a Redis pod rescheduled onto another
 * address, a partition that drops packets). The kernel keeps such a connection open; only a client
 * that gives up on it and connects anew reaches the Redis that is there now.
 */
describe('a Redis connection gone dead without a reset', () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  let proxy: Awaited<ReturnType<typeof freezableProxy>>;

  beforeAll(async () => {
    server = await startRedis();
    proxy = await freezableProxy(server.port);
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('the API: store calls answer STORE_UNAVAILABLE while it is cut, then work again on a new connection within seconds', async () => {
    const redis = await openRedis(proxy.url, 'commands');
    try {
      const store = guardRedis(new RedisModelStore(redis), redis);
      expect(await store.currentVersion('m')).toBeNull();
      proxy.freeze();
      const cut = Date.now();
      const failed = await store.currentVersion('m').then(
        () => null,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(AppError);
      expect((failed as AppError).code).toBe('STORE_UNAVAILABLE');
      expect(Date.now() - cut).toBeLessThan(COMMAND_TIMEOUT_MS + 2000);
      // Without a new connection every call would wait on the dead one for good (the proxy, like
      // a kernel, keeps it open).
      await eventually(async () => ((await store.currentVersion('m')) === null ? true : undefined), 10_000, 'a store call answered on a new connection');
      expect(Date.now() - cut).toBeLessThan(COMMAND_TIMEOUT_MS + 10_000);
    } finally {
      redis.disconnect();
    }
  }, 30_000);

  it("a worker: a command waiting on it is sent again on a new connection and answered, as BullMQ's are", async () => {
    const redis = await openRedis(proxy.url, 'worker');
    try {
      await redis.set('w', '1');
      proxy.freeze();
      // A worker's connection retries without limit (maxRetriesPerRequest null): without a new
      // connection this would wait for good.
      expect(await redis.get('w')).toBe('1');
    } finally {
      redis.disconnect();
    }
  }, 40_000);
});
