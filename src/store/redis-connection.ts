import { AppError } from '../errors';
import { Redis } from 'ioredis';
import { withDeadline } from '../deadline';

/**
 * What a connection is for:
 * - `commands`: registry, datasets and queue producers. Fails fast while Redis is down
 *   (no offline queue, one retry), so requests answer 503 at once instead of hanging, and the
 *   API keeps scoring with the models it holds.
 * - `training`: a training job's reads and writes (a whole dataset at once, a version): as
 *   `commands`, with a minute for a command instead of COMMAND_TIMEOUT_MS.
 * - `worker`: BullMQ workers, whose blocking commands must wait out a Redis restart.
 * - `subscriber`: pub/sub; reconnects and resubscribes by itself.
 */
export type RedisRole = 'commands' | 'training' | 'worker' | 'subscriber';

/**
 * Longest a command of the `commands` role may take: a Redis that accepts connections but does not
 * answer (a partition that drops packets, a server stopped or blocked) then fails calls with
 * STORE_UNAVAILABLE instead of holding them, and the requests behind them, without end. Far above
 * what the largest artifact takes to save or load over a LAN.
 */
export const COMMAND_TIMEOUT_MS = 5000;

/** Longest a command of the `training` role may take: a whole dataset read, a version written. */
const TRAINING_COMMAND_TIMEOUT_MS = 60_000;

/**
 * How long a connection may wait for any byte of a reply before it is cut and made anew, per role.
 * A connection whose peer vanished without a word (a Redis pod rescheduled onto another address,
 * a partition that drops packets) sends no reset: the kernel keeps it open, a command timeout only
 * fails the command, and every later command waits on the same dead socket, for as long as the
 * kernel keeps retransmitting (about 15 minutes on Linux) or without end. A new connection reaches
 * the Redis that is there now. BullMQ's blocking reads (at most 10 s, its own watchdog at 11 s) fit
 * within the worker's.
 */
const SOCKET_TIMEOUT_MS: Record<RedisRole, number | undefined> = {
  commands: COMMAND_TIMEOUT_MS,
  training: TRAINING_COMMAND_TIMEOUT_MS,
  worker: 20_000,
  // Idle by design (it only listens): nothing to time. The registry is asked every second
  // anyway, so a lost event delays a version by that much (see the model cache).
  subscriber: undefined,
};

/** Reconnect every 0.2 s at first, backing off to every 2 s, forever. */
const retryStrategy = (attempt: number): number => Math.min(attempt * 200, 2000);

/** How long a process starting waits for Redis (started beside it, it may come up a little later). */
export const REDIS_START_WAIT_MS = 15_000;

/**
 * Opens a connection and waits until it is ready, trying again for up to `waitMs` while Redis
 * refuses it (a container started beside Redis often comes up first).
 * @throws AppError STORE_UNAVAILABLE naming Redis's address (never its password) and the cause
 */
export async function openRedis(url: string, role: RedisRole, waitMs = REDIS_START_WAIT_MS): Promise<Redis> {
  const started = Date.now();
  // The client's own error (ECONNREFUSED, ENOTFOUND, NOAUTH ...) says more than connect()'s rejection.
  let cause: unknown;
  for (;;) {
    const redis = new Redis(url, {
      lazyConnect: true,
      retryStrategy,
      connectionName: `nce-ood-${role}`,
      ...(role === 'commands' || role === 'training' ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: role === 'commands' ? COMMAND_TIMEOUT_MS : TRAINING_COMMAND_TIMEOUT_MS } : { maxRetriesPerRequest: null }),
      ...(SOCKET_TIMEOUT_MS[role] === undefined ? {} : { socketTimeout: SOCKET_TIMEOUT_MS[role] }),
    });
    // Connection errors are retried by retryStrategy; without a listener ioredis would print each one.
    redis.on('error', (e: unknown) => {
      cause = e;
    });
    try {
      // Bounded: an address that accepts the connection but never answers would hold it forever.
      const left = Math.max(500, waitMs - (Date.now() - started));
      await withDeadline(redis.connect(), left, () => new Error(`no answer within ${Math.round(left / 1000)} s`));
      await selectDatabase(redis, url);
      return redis;
    } catch (e: unknown) {
      // No client left reconnecting in the background after a failed attempt.
      redis.disconnect();
      if (e instanceof AppError) throw e;
      const timedOut = e instanceof Error && e.message.startsWith('no answer within');
      const why = !timedOut && cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e);
      if (Date.now() - started >= waitMs) {
        throw new AppError('STORE_UNAVAILABLE', `Redis at ${addressOf(url)} is unreachable (${why}); waited ${Math.round(waitMs / 1000)} s`, undefined, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Selects the URL's database again, to see the answer: the client selects it on connecting but
 * only emits a refusal (a database the server does not have), then runs every command on database 0.
 * @throws AppError INVALID_SETTINGS naming REDIS_URL
 */
async function selectDatabase(redis: Redis, url: string): Promise<void> {
  const db = Number(new URL(url).pathname.slice(1) || 0);
  if (db === 0) return;
  try {
    await redis.select(db);
  } catch (e: unknown) {
    throw new AppError('INVALID_SETTINGS', `invalid configuration: REDIS_URL: Redis at ${addressOf(url)} has no database ${db} (${e instanceof Error ? e.message : String(e)}); name one it has (0 to its "databases" setting less one)`, undefined, { cause: e });
  }
}

/** A Redis URL without its user and password, for messages. */
export function addressOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(an invalid REDIS_URL)';
  }
}

/**
 * Resolves when `redis` is connected, waiting up to `ms` while it reconnects (after an outage a
 * client may still be reconnecting when work arrives: its commands would fail at once, with the
 * offline queue off); rejects with STORE_UNAVAILABLE after that.
 */
export async function whenConnected(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off('ready', done);
      reject(storeUnavailable(new Error(`Redis not connected after ${ms} ms (status ${redis.status})`)));
    }, ms);
    redis.on('ready', done);
  });
}

/** The error of a store call made while Redis is unreachable (the API answers 503); the client's own error is its cause. */
function storeUnavailable(cause: unknown): AppError {
  return new AppError('STORE_UNAVAILABLE', 'the store (Redis) is unreachable; scoring with loaded models continues', undefined, { cause });
}

/** What ioredis throws for a command when the connection is gone (whatever its status says yet). */
const CONNECTION_LOST = /Stream isn't writeable|Connection is closed|max retries per request|Command timed out|Socket timeout|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH/i;

/** Whether an error is ioredis saying a connection is gone (or timed out), not Redis refusing a command. */
export function lostConnection(e: unknown): boolean {
  return e instanceof Error && (e.name === 'MaxRetriesPerRequestError' || CONNECTION_LOST.test(e.message));
}

/**
 * Redis's replies that refuse a command for the state Redis is in, not for the command: still
 * loading its data, a replica cut off from its primary, a script running too long, a snapshot or
 * append-only file it cannot write, too few replicas for `min-replicas-to-write`, a cluster not ready, a user the ACL does not allow the command, or a blocking
 * command ended because the server turned replica.
 */
const REFUSED_FOR_NOW = /\b(LOADING|MASTERDOWN|BUSY|MISCONF|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|NOPERM|NOAUTH|WRONGPASS|UNBLOCKED)\b/;

/**
 * Redis refusing a command: at `maxmemory` with noeviction ("OOM command not allowed", also inside
 * a script or as the reason an EXEC was aborted), as a read-only replica, or for its state now
 * ({@link REFUSED_FOR_NOW}); the refusal's first words, for the message.
 */
function refusal(e: unknown): { code: 'STORAGE_FULL' | 'STORE_UNAVAILABLE'; reason: string } | null {
  if (!(e instanceof Error)) return null;
  const reasons = [e.message, ...((e as { previousErrors?: Error[] }).previousErrors ?? []).map((p) => p.message)].join(' ');
  if (/\bOOM command not allowed\b/.test(reasons)) return { code: 'STORAGE_FULL', reason: 'is full (maxmemory)' };
  if (/\bREADONLY\b/.test(reasons)) return { code: 'STORE_UNAVAILABLE', reason: 'is a read-only replica' };
  const now = REFUSED_FOR_NOW.exec(reasons);
  return now ? { code: 'STORE_UNAVAILABLE', reason: `refused the command (${now[1]})` } : null;
}

/** Whether Redis refused a command for being at `maxmemory` (noeviction). */
export function redisFull(e: unknown): boolean {
  return refusal(e)?.code === 'STORAGE_FULL';
}

/** What Redis refused a command for, where it refused it for its state (full, a read-only replica, ...), else null. */
export function redisRefusal(e: unknown): string | null {
  const refused = refusal(e);
  return refused === null ? null : `the store (Redis) ${refused.reason}`;
}

/** The AppError for a client error that says the store cannot take the command now, or the error itself. */
function asStoreCondition(e: unknown): unknown {
  const refused = refusal(e);
  return refused === null ? e : new AppError(refused.code, `the store (Redis) ${refused.reason}: nothing was changed`, undefined, { cause: e });
}

/**
 * Wraps an object whose async methods talk to `redis`: a call made or failing while the connection
 * is not ready throws STORE_UNAVAILABLE instead of the client's own error, and a write Redis
 * refuses for memory (maxmemory with noeviction) STORAGE_FULL (507), nothing changed. Made while it is not
 * ready, a call fails at once rather than reaching the client: BullMQ builds some helpers on first
 * use (the job scheduler's), and those wait for the connection without a timeout.
 */
export function guardRedis<T extends object>(target: T, redis: Redis): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      // Closing and stopping need no connection (and must not fail a shutdown during an outage).
      if (prop === 'close' || prop === 'stop') return value.bind(obj) as unknown;
      return async (...args: unknown[]) => {
        if (redis.status !== 'ready') throw storeUnavailable(new Error(`the connection is ${redis.status}`));
        try {
          return await (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (e: unknown) {
          // The connection can drop before the client's status says so: its errors tell too.
          throw redis.status === 'ready' && !lostConnection(e) ? asStoreCondition(e) : storeUnavailable(e);
        }
      };
    },
  });
}

/**
 * Redis's clock, in ms since the epoch. Every time compared across processes in distributed mode
 * (a model's deletion, a job's enqueueing, a version's id) is read from it: hosts' clocks drift
 * apart by seconds, one server's clock does not.
 */
export async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * A sentence for the start-up log when Redis evicts keys at its memory limit (a maxmemory-policy
 * other than noeviction), else null: it would drop datasets, models, jobs and the markers with an
 * expiry (an upload's rows while they are written, a model's deletion) first, without a word. With
 * noeviction a full Redis refuses writes instead (507 STORAGE_FULL), and the service says so.
 */
export function evictionWarning(info: string): string | null {
  const { max, policy } = memoryOf(info);
  if (!(max > 0) || policy === '' || policy === 'noeviction') return null;
  return `Redis evicts keys at its memory limit (maxmemory-policy ${policy}): it can drop datasets, models and jobs without a word; run it with maxmemory-policy noeviction (a full Redis then refuses writes, answered 507)`;
}

/** Redis's memory in use, its limit (0: none) and its maxmemory-policy ('' if unsaid), from the text of INFO (its memory section). */
export function memoryOf(info: string): { used: number; max: number; policy: string } {
  return {
    used: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0),
    max: Number(/maxmemory:(\d+)/.exec(info)?.[1] ?? 0),
    policy: /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? '',
  };
}
