import { randomBytes } from 'node:crypto';
import { AppError } from '../errors';
import type { Redis } from 'ioredis';
import type { DataRecord } from '../nce';
import { type ColumnContract, contractOf } from './dataset-contract';
import { appendFingerprint, type AppendOptions, type AppendResult, datasetChanged, type DatasetInfo, type DatasetStore, datasetNotFound, keyReused, newGeneration, REMEMBERED_APPEND_KEYS, shapeText } from './dataset-store';
import { redisFull } from './redis-connection';
import { redisKeys } from './redis-keys';
import { exec } from './redis-model-store';

/** Records per RPUSH, so one command never carries a whole large upload. */
const CHUNK = 1000;

/**
 * Seconds a replacement's rows under construction live unless renamed into place: a process that
 * dies while writing them (or loses Redis meanwhile) cannot delete them, and Redis drops them.
 * Each chunk written renews it, so it need only outlast the pause between two chunks (a Redis
 * command waits 5 s at most before the upload fails). An hour, before, let a few killed uploads of
 * a few hundred thousand rows hold their rows for that long (an outside probe: 224,000 rows left),
 * enough to fill a Redis that does not evict, where every write then answers 507.
 */
export const TMP_ROWS_TTL_SECONDS = 300;

/**
 * Datasets in Redis (distributed mode): a list of JSON records plus a meta hash. A replacement is
 * built under a temporary key (which expires, should the process die before renaming or deleting
 * it) and renamed into place in one script with its meta, once it holds every row; an append pushes
 * and trims in one script. Readers see the old dataset or the new one, never a mix.
 */
export class RedisDatasetStore implements DatasetStore {
  constructor(private readonly redis: Redis) {}

  async list(): Promise<DatasetInfo[]> {
    const names = (await this.redis.smembers(redisKeys.datasets)).sort();
    const infos = await Promise.all(names.map((n) => this.info(n)));
    return infos.filter((i): i is DatasetInfo => i !== null);
  }

  async info(name: string): Promise<DatasetInfo | null> {
    // One script: a PUT landing between two reads would pair one upload's meta with another's row count.
    const [meta, rows] = (await this.redis.eval(READ_DATASET, 2, redisKeys.datasetMeta(name), redisKeys.datasetRows(name), '')) as [string[], number];
    const fields = hashOf(meta);
    return fields.columns === undefined ? null : toInfo(name, fields, rows);
  }

  async records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }> {
    let fields: Record<string, string>;
    let rows: string[];
    try {
      // A MULTI, not a script: a script copies every row into Lua's memory and holds Redis for
      // all of it (4 s for 400,000 rows, against 0.27 s), where other clients get BUSY.
      const [[, meta], [, list]] = (await this.redis.multi().hgetall(redisKeys.datasetMeta(name)).lrange(redisKeys.datasetRows(name), 0, -1).exec()) as [[Error | null, Record<string, string>], [Error | null, string[]]];
      [fields, rows] = [meta, list];
    } catch (e: unknown) {
      // Redis at maxmemory refuses a MULTI whole, reads too: the script then, as for info().
      if (!redisFull(e)) throw e;
      const [meta, list] = (await this.redis.eval(READ_DATASET, 2, redisKeys.datasetMeta(name), redisKeys.datasetRows(name), 'rows')) as [string[], string[]];
      [fields, rows] = [hashOf(meta), list];
    }
    if (fields.columns === undefined) throw datasetNotFound(name);
    return { info: toInfo(name, fields, rows.length), records: rows.map((r) => JSON.parse(r) as DataRecord) };
  }

  async put(name: string, columns: readonly string[], records: readonly DataRecord[], categorical: readonly string[] = []): Promise<DatasetInfo> {
    const updatedAt = new Date().toISOString();
    const schema = await contractOf(columns, records, categorical);
    const generation = newGeneration();
    const tmp = `${redisKeys.datasetRows(name)}:tmp-${randomBytes(6).toString('hex')}`;
    try {
      for (let i = 0; i < records.length; i += CHUNK) {
        // Each chunk renews the expiry with its push, in one transaction: the key never lives
        // without one, and a slow upload never loses its first rows to it.
        await exec(this.redis.multi().rpush(tmp, ...records.slice(i, i + CHUNK).map((r) => JSON.stringify(r))).expire(tmp, TMP_ROWS_TTL_SECONDS));
      }
      const placed = await this.redis.eval(
        PLACE_DATASET,
        5,
        tmp,
        redisKeys.datasetRows(name),
        redisKeys.datasetMeta(name),
        redisKeys.datasetAppendKeys(name),
        redisKeys.datasets,
        String(records.length),
        name,
        JSON.stringify(columns),
        JSON.stringify(schema),
        updatedAt,
        generation,
      );
      if (placed !== 1) {
        throw new AppError('STORE_UNAVAILABLE', `dataset "${name}" was not replaced: Redis dropped the upload's rows while they were written (${Number(placed)} of ${records.length} left: evicted under a maxmemory-policy other than noeviction, or the store emptied meanwhile); nothing was changed, send it again`);
      }
    } catch (e: unknown) {
      // Not awaited: where Redis stopped answering, the failure is answered now rather than after
      // a second timeout; the temporary key expires should this delete not land.
      this.redis.del(tmp).catch(() => undefined);
      throw e;
    }
    return { name, rows: records.length, columns: [...columns], updatedAt, schema, generation };
  }

  async append(name: string, records: readonly DataRecord[], options: AppendOptions = {}): Promise<AppendResult> {
    const { maxRows, expect, key } = options;
    const updatedAt = new Date().toISOString();
    const lines = records.map((r) => JSON.stringify(r)).join('\n');
    // One script: a dataset deleted or replaced meanwhile is never appended to (no orphaned rows,
    // no meta without columns), and the row count returned is the one the append left.
    const result = (await this.redis.eval(
      APPEND_SCRIPT,
      3,
      redisKeys.datasetMeta(name),
      redisKeys.datasetRows(name),
      redisKeys.datasetAppendKeys(name),
      updatedAt,
      maxRows === undefined ? '0' : String(maxRows),
      expect ? shapeText(expect.columns, expect.schema) : '',
      expect?.generation ?? '',
      key ?? '',
      key === undefined ? '' : appendFingerprint(records),
      // One argument, a record a line (JSON text never holds a raw newline): as many arguments
      // as records would overflow the call stack from about 130,000 records.
      lines,
    )) as [string, number, string | null, string | null, string, number] | 'changed' | 'reused' | null;
    if (!result) throw datasetNotFound(name);
    if (result === 'changed') throw datasetChanged(name);
    if (result === 'reused') throw keyReused(name, key as string);
    const [columns, rows, schema, generation, at, replayed] = result;
    return { name, rows, columns: JSON.parse(columns) as string[], updatedAt: at, ...(schema ? { schema: JSON.parse(schema) as ColumnContract[] } : {}), ...(generation ? { generation } : {}), ...(replayed ? { replayed: true } : {}) };
  }

  async delete(name: string): Promise<boolean> {
    const deleted = await this.redis.eval(DELETE_DATASET, 4, redisKeys.datasetMeta(name), redisKeys.datasetRows(name), redisKeys.datasetAppendKeys(name), redisKeys.datasets, name);
    return deleted !== 0;
  }
}

/**
 * KEYS: meta hash, rows list; ARGV[1] 'rows' for the rows themselves, else their count. Returns
 * [the meta hash's fields and values in turn, the rows or their count]. One script, so a PUT cannot
 * land between the two reads; not a MULTI, which Redis at `maxmemory` (noeviction) refuses whole,
 * reads too, where it runs a script that only reads. (The rows themselves only there: a script
 * holds Redis for as long as it copies them.)
 */
const READ_DATASET = `
local meta = redis.call('HGETALL', KEYS[1])
if ARGV[1] == 'rows' then return {meta, redis.call('LRANGE', KEYS[2], 0, -1)} end
return {meta, redis.call('LLEN', KEYS[2])}
`;

/** A hash's fields from HGETALL's reply in a script: field, value, field, value ... */
function hashOf(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i] as string] = pairs[i + 1] as string;
  return out;
}

/**
 * KEYS: the upload's temporary rows, the rows list, meta hash, append keys, the datasets set. ARGV:
 * how many rows the upload holds, the name, columns JSON, schema JSON, updatedAt, generation.
 * Renames the rows into place (the rename carries the temporary key's expiry over: the dataset's
 * rows then lose it) and writes the meta, in one step; returns 1, or, where the temporary key no
 * longer holds every row (evicted: it is the key with an expiry a volatile maxmemory-policy drops
 * first; or Redis emptied while it was written), how many it holds, and changes nothing. The
 * MULTI this was ran its other commands after a failed rename, storing a part of the upload as
 * the whole, or the new meta over the old rows.
 */
const PLACE_DATASET = `
local n = tonumber(ARGV[1])
if n > 0 then
  local held = redis.call('LLEN', KEYS[1])
  if held ~= n then return held end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('HSET', KEYS[3], 'columns', ARGV[3], 'schema', ARGV[4], 'updatedAt', ARGV[5], 'generation', ARGV[6])
redis.call('SADD', KEYS[5], ARGV[2])
return 1
`;

/**
 * KEYS: meta hash, rows list, append keys, the datasets set; ARGV: the name. Deletes the dataset's
 * keys and unlists it; returns how many of the keys existed. A script, not a MULTI: Redis at
 * `maxmemory` (noeviction) refuses every command queued in a MULTI, DEL too, and a script whose first
 * write frees memory runs, so a full store can still be emptied through the API.
 */
const DELETE_DATASET = `
local deleted = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return deleted
`;

/**
 * KEYS: meta hash, rows list, append keys (sorted set). ARGV: updatedAt, maxRows (0 = all), the
 * expected shape (see `shapeText`; empty: any), the expected generation (empty with the shape:
 * none; see `sameDataset`), the append's key (empty: none), its records' fingerprint (see
 * `appendFingerprint`), then the records as JSON, one a line. Returns [columns JSON, rows, schema
 * JSON or nil, generation or nil, updatedAt, 1 when the key had already been appended with these
 * records (then nothing is) else 0]; nil when the dataset does not exist; 'changed' when it is not
 * the one expected; 'reused' when the key was appended with other records (nothing is). The shape is compared as `shapeText` writes it: [columns,
 * schema or null], from their JSON as stored. A key is remembered with the dataset's generation
 * (a key of the dataset a PUT replaced never matches, even where that PUT did not clear them) and
 * the time it landed; only the newest REMEMBERED_APPEND_KEYS are kept.
 */
const APPEND_SCRIPT = `
local columns = redis.call('HGET', KEYS[1], 'columns')
if not columns then return nil end
local schema = redis.call('HGET', KEYS[1], 'schema')
local generation = redis.call('HGET', KEYS[1], 'generation')
if ARGV[3] ~= '' and (ARGV[3] ~= '[' .. columns .. ',' .. (schema or 'null') .. ']' or ARGV[4] ~= (generation or '')) then return 'changed' end
local member = (generation or '') .. ':' .. ARGV[5]
if ARGV[5] ~= '' then
  -- Remembered as the key, a newline and its records' fingerprint (the key alone before it was).
  local prefix = member .. '\\n'
  local remembered = prefix .. ARGV[6]
  for _, m in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if m == member or m == remembered then
      return {columns, redis.call('LLEN', KEYS[2]), schema, generation, redis.call('HGET', KEYS[1], 'updatedAt') or '', 1}
    end
    if string.sub(m, 1, #prefix) == prefix then return 'reused' end
  end
end
local rows, batch, start = ARGV[7], {}, 1
while start <= #rows do
  local stop = string.find(rows, '\\n', start, true) or (#rows + 1)
  batch[#batch + 1] = string.sub(rows, start, stop - 1)
  if #batch == ${CHUNK} then
    redis.call('RPUSH', KEYS[2], unpack(batch))
    batch = {}
  end
  start = stop + 1
end
if #batch > 0 then redis.call('RPUSH', KEYS[2], unpack(batch)) end
local maxRows = tonumber(ARGV[2])
if maxRows > 0 then redis.call('LTRIM', KEYS[2], -maxRows, -1) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
if ARGV[5] ~= '' then
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[3], tonumber(now[1]) * 1000000 + tonumber(now[2]), member .. '\\n' .. ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -${REMEMBERED_APPEND_KEYS + 1})
end
return {columns, redis.call('LLEN', KEYS[2]), schema, generation, ARGV[1], 0}
`;

/** A dataset's summary from its meta hash (which has `columns`) and its row count. */
function toInfo(name: string, meta: Record<string, string>, rows: number): DatasetInfo {
  return { name, rows, columns: JSON.parse(meta.columns as string) as string[], updatedAt: meta.updatedAt ?? '', ...(meta.schema ? { schema: JSON.parse(meta.schema) as ColumnContract[] } : {}), ...(meta.generation ? { generation: meta.generation } : {}) };
}
