import type { Redis } from 'ioredis';
import { type Artifact, fromArtifact, NceError } from '../nce';
import { AppError } from '../errors';
import { cancelledBy, DELETION_MEMORY_MS, type LoadedModel, type ModelStore, newVersionId, SavedByAnotherRun, type SaveOptions, type StoreWritability, VERSION_PATTERN, deletedMeanwhile, versionNotFound, versionsToPrune } from './model-store';
import { memoryOf, redisFull, redisNowMs, redisRefusal } from './redis-connection';
import { type ModelEvent, redisKeys } from './redis-keys';

/**
 * Deletes a model's versions, current pointer and name, records the deletion's time (KEYS[4], for
 * ARGV[5] ms; Redis's clock, which jobs' enqueue times are read from too) and announces it; 0 when
 * there was none (the time is recorded all the same).
 */
const DELETE_MODEL = `
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local versions = redis.call('ZRANGE', KEYS[1], 0, -1)
local existed = #versions > 0 or redis.call('EXISTS', KEYS[2]) == 1
for _, v in ipairs(versions) do redis.call('DEL', ARGV[1] .. v) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[4], now, 'PX', ARGV[5])
if not existed then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * Saves a version (its hash from ARGV 12 on, field and value pairs), lists it and, with ARGV[4]
 * "1", makes it current and announces it; unless the model was deleted at or after ARGV[3] (ms, "" for
 * no check): 0 then; unless the key ARGV[9] ("" for no check) is gone, or holds other than ARGV[11] (when
 * that is not ""), the job's record or lock in the queue (a lock's job record gone too): 'lost' then; unless a version (keys ARGV[8] .. id) already records the job ARGV[7] ("" for
 * no check): 'saved:<that version>' then; unless the job's cancellation mark ARGV[10] ("" for no
 * check) is set: 'cancelled:<the mark>' then (after 'saved:': a cancel that came after a run of the
 * job saved its version was answered 409, and that version stands). Nothing is written in those cases. One script, so a
 * delete, or another run of the job, cannot land between check and write.
 */
const SAVE_VERSION = `
if ARGV[3] ~= '' then
  local at = redis.call('GET', KEYS[5])
  if at and tonumber(at) >= tonumber(ARGV[3]) then return 0 end
end
if ARGV[9] ~= '' then
  if ARGV[11] == '' then
    if redis.call('EXISTS', ARGV[9]) == 0 then return 'lost' end
  elseif redis.call('GET', ARGV[9]) ~= ARGV[11] then return 'lost'
  -- The lock is the job's record's key and ':lock' (BullMQ's layout): the record must be there too.
  elseif string.sub(ARGV[9], -5) == ':lock' and redis.call('EXISTS', string.sub(ARGV[9], 1, -6)) == 0 then return 'lost' end
end
if ARGV[7] ~= '' then
  for _, v in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('HGET', ARGV[8] .. v, 'job') == ARGV[7] then return 'saved:' .. v end
  end
end
if ARGV[10] ~= '' then
  local cancel = redis.call('GET', ARGV[10])
  if cancel then return 'cancelled:' .. cancel end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 12))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return 1
`;

/** Makes a version current and announces it, only if it is still listed (a delete may have run); 0 when not. */
const PROMOTE_VERSION = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`;

/** Deletes the versions named, except one that became current meanwhile; returns those deleted. */
const PRUNE_VERSIONS = `
local current = redis.call('GET', KEYS[2])
local removed = {}
for i = 2, #ARGV do
  local v = ARGV[i]
  if v ~= current and redis.call('ZSCORE', KEYS[1], v) then
    redis.call('DEL', ARGV[1] .. v)
    redis.call('ZREM', KEYS[1], v)
    table.insert(removed, v)
  end
end
return removed
`;

/**
 * The model registry in Redis (distributed mode), shared by every API replica and worker. A
 * version's manifest and weights are written in one MULTI with the version list (and the current
 * pointer), so no reader sees half a version; every change of a current version is published on
 * `redisKeys.modelEvents` for the replicas to hot-swap.
 */
export class RedisModelStore implements ModelStore {
  readonly savesCurrentAtOnce = true;
  constructor(private readonly redis: Redis) {}

  async list(): Promise<string[]> {
    const names = (await this.redis.smembers(redisKeys.models)).sort();
    if (names.length === 0) return [];
    const current = await this.redis.mget(names.map(redisKeys.current));
    return names.filter((_, i) => current[i] !== null);
  }

  async names(): Promise<string[]> {
    const names = (await this.redis.smembers(redisKeys.models)).sort();
    if (names.length === 0) return [];
    const counts = (await this.redis.pipeline(names.map((n) => ['zcard', redisKeys.versions(n)])).exec()) ?? [];
    return names.filter((_, i) => Number(counts[i]?.[1] ?? 0) > 0);
  }

  async versions(name: string): Promise<string[]> {
    return (await this.redis.zrange(redisKeys.versions(name), 0, -1)).filter((v) => VERSION_PATTERN.test(v));
  }

  async currentVersion(name: string): Promise<string | null> {
    return this.redis.get(redisKeys.current(name));
  }

  async load(name: string, version: string): Promise<LoadedModel> {
    const [manifest, weights] = await this.redis.hmgetBuffer(redisKeys.version(name, version), 'manifest', 'weights');
    if (!manifest || !weights) throw new NceError('ARTIFACT_INVALID', `no model artifact for ${name} version ${version}`);
    const verified = fromArtifact(manifest.toString('utf8'), weights);
    return { name, version, ...verified };
  }

  async save(name: string, artifact: Artifact, options: SaveOptions = {}): Promise<string> {
    const version = newVersionId(await redisNowMs(this.redis));
    const fields: (string | Buffer)[] = ['manifest', JSON.stringify(artifact.manifest), 'weights', artifact.weights];
    if (options.candidate !== undefined) fields.push('candidate', options.candidate);
    if (options.jobId !== undefined) fields.push('job', options.jobId);
    const saved = (await this.redis.eval(
      SAVE_VERSION,
      5,
      redisKeys.version(name, version),
      redisKeys.versions(name),
      redisKeys.models,
      redisKeys.current(name),
      redisKeys.deleted(name),
      version,
      name,
      options.unlessDeletedAfter === undefined ? '' : String(options.unlessDeletedAfter.getTime()),
      options.candidate === undefined ? '1' : '0',
      redisKeys.modelEvents,
      event({ model: name, version }),
      options.jobId ?? '',
      redisKeys.version(name, ''),
      options.whileExists ?? '',
      options.unlessCancelled ?? '',
      options.holding ?? '',
      ...fields,
    )) as number | string;
    if (typeof saved === 'string' && saved.startsWith('cancelled:')) throw cancelledBy(saved.slice('cancelled:'.length));
    if (saved === 'lost') throw new AppError('WORKER_LOST', `this run no longer holds the job that trained this version of model "${name}" (the worker gave the run up, another worker took the job over, or Redis came back empty): nothing was saved`);
    if (typeof saved === 'string' && saved.startsWith('saved:')) throw new SavedByAnotherRun(saved.slice('saved:'.length));
    if (saved !== 1) throw deletedMeanwhile(name);
    return version;
  }

  async versionOfJob(name: string, jobId: string): Promise<string | null> {
    const versions = (await this.versions(name)).reverse();
    if (versions.length === 0) return null;
    const tx = this.redis.pipeline();
    for (const v of versions) tx.hget(redisKeys.version(name, v), 'job');
    const jobs = (await tx.exec()) ?? [];
    const i = jobs.findIndex(([err, job]) => err === null && job === jobId);
    return i < 0 ? null : versions[i];
  }

  async candidateReason(name: string, version: string): Promise<string | null> {
    return this.redis.hget(redisKeys.version(name, version), 'candidate');
  }

  async promote(name: string, version: string): Promise<void> {
    if (!VERSION_PATTERN.test(version) || (await this.redis.zscore(redisKeys.versions(name), version)) === null) throw versionNotFound(name, version);
    await this.load(name, version);
    // One script: a delete between the check above and here must not leave a current pointer to
    // a version that no longer exists.
    const promoted = await this.redis.eval(PROMOTE_VERSION, 2, redisKeys.versions(name), redisKeys.current(name), version, redisKeys.modelEvents, event({ model: name, version }));
    if (promoted !== 1) throw versionNotFound(name, version);
  }

  /**
   * Redis refuses writes when it is out of memory (maxmemory with noeviction) or a read-only
   * replica, which its INFO says; and for reasons it says only by refusing one (a snapshot or
   * append-only file it cannot write, too few replicas): a write tells, as 'read-only'.
   */
  async writable(): Promise<StoreWritability> {
    // One round trip: the default sections hold both memory and replication.
    const info = await this.redis.info();
    const { used, max, policy } = memoryOf(info);
    if (max > 0 && used >= max && policy === 'noeviction') return 'full';
    if (/^role:slave/m.test(info)) return 'read-only';
    try {
      await this.redis.set(redisKeys.readyProbe, '1', 'PX', 1000);
      return 'ok';
    } catch (e: unknown) {
      if (redisFull(e)) return 'full';
      if (redisRefusal(e) !== null) return 'read-only';
      throw e;
    }
  }

  async prune(name: string, keep: number, spare: readonly string[] = []): Promise<string[]> {
    const doomed = versionsToPrune(await this.versions(name), await this.currentVersion(name), keep, spare);
    if (doomed.length === 0) return [];
    // One script: a promote between the reads above and here keeps its version.
    return (await this.redis.eval(PRUNE_VERSIONS, 2, redisKeys.versions(name), redisKeys.current(name), redisKeys.version(name, ''), ...doomed)) as string[];
  }

  async delete(name: string): Promise<boolean> {
    // One script, so a version saved while the model is being deleted cannot be orphaned or
    // bring the model back: Redis runs it atomically, and its deletion time with it. Its first
    // write is a DEL: Redis at maxmemory (noeviction) runs such a script whole, where the time
    // written first was refused, and a full store could not be emptied through the API.
    const deleted = await this.redis.eval(
      DELETE_MODEL,
      4,
      redisKeys.versions(name),
      redisKeys.current(name),
      redisKeys.models,
      redisKeys.deleted(name),
      redisKeys.version(name, ''),
      name,
      redisKeys.modelEvents,
      event({ model: name, version: null }),
      String(DELETION_MEMORY_MS),
    );
    return deleted === 1;
  }

  async deletedAt(name: string): Promise<Date | null> {
    const at = await this.redis.get(redisKeys.deleted(name));
    return at === null ? null : new Date(Number(at));
  }
}

function event(e: ModelEvent): string {
  return JSON.stringify(e);
}

/** Runs a MULTI and throws the first command error (EXEC itself only fails on a conflict). */
export async function exec(tx: ReturnType<Redis['multi']>): Promise<void> {
  const results = await tx.exec();
  const failed = results?.find(([err]) => err !== null);
  if (failed) throw failed[0];
}
