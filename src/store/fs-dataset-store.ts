import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { DataRecord } from '../nce';
import { type ColumnContract, contractOf } from './dataset-contract';
import { appendFingerprint, type AppendOptions, type AppendResult, datasetChanged, type DatasetInfo, type DatasetStore, datasetNotFound, keyReused, matchKey, newGeneration, REMEMBERED_APPEND_KEYS, rememberedKey, sameDataset } from './dataset-store';
import { KeyedSerial, StoreRoot, syncPath, writeFileAtomic } from './files';

/**
 * What a dataset's summary file holds: everything {@link DatasetInfo} says but its name, where its
 * rows are (`rowsFile`, whose bytes from `rowsStart`, 0 when absent, up to `rowsBytes` are the
 * dataset's: rows before `rowsStart` were dropped by `maxRows`), and the keys of its latest appends
 * (see `AppendOptions.key`), oldest first.
 */
type StoredInfo = Omit<DatasetInfo, 'name'> & { rowsFile?: string; rowsStart?: number; rowsBytes?: number; appendKeys?: string[] };

/** Bytes read at a time while looking for the end of a summary file's first line. */
const HEAD_CHUNK = 64 * 1024;

/** Records turned into text or read from it between two turns of the event loop. */
const RECORDS_PER_TURN = 5000;

/** Bytes of a rows file read at a time. */
const READ_CHUNK = 1 << 20;

/** Attempts of a read that a concurrent replacement keeps moving the rows from under. */
const READ_ATTEMPTS = 5;

/**
 * Datasets on a filesystem, two files each:
 * - `root/<name>.json`, the summary (columns, rows, contract, generation), written whole through
 *   a temporary file and a rename, so listing or inspecting datasets reads a line, not every row;
 * - `root/<name>.<generation>[.<n>].rows`, the records, one JSON object per line, which the
 *   summary names with the byte length that is the dataset's.
 *
 * An append adds lines to the rows file, then writes the summary that counts them: the cost of an
 * append is its own records, not the dataset's (600,000 rows took 1.5 s per append, rewritten
 * whole). Until the summary is written, readers read the rows the old one counts; a crash between
 * the two leaves bytes beyond the count, which the next append cuts off first. A PUT writes a new
 * rows file, then the summary naming it, then deletes the old one. Rows are turned into text and
 * back a few thousand records at a time, between turns of the event loop, so a large dataset does
 * not hold up scoring while it is written or read.
 *
 * Writes to one dataset run one after another (the embedded mode is one process): two concurrent
 * appends both land, and an append never brings back a dataset deleted meanwhile. Files of the
 * earlier forms (one JSON object with the records inside; a summary line, then the records as one
 * JSON array) still read, and the next write turns them into this one.
 */
export class FsDatasetStore implements DatasetStore {
  private readonly writes = new KeyedSerial();

  private readonly rootFolder: StoreRoot;

  /** @param options.fixedRoot as FsModelStore's (see StoreRoot): a root gone since the start is the store away, not datasets gone. */
  constructor(
    private readonly root: string,
    options: { fixedRoot?: boolean } = {},
  ) {
    this.rootFolder = new StoreRoot(root, 'datasets', options.fixedRoot);
  }

  async list(): Promise<DatasetInfo[]> {
    let files: string[];
    try {
      files = await readdir(this.root);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.rootFolder.nothingFound([]);
      throw e;
    }
    const names = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    // A damaged dataset is left out of the list (its own routes say what is wrong with it), not
    // made to fail the listing of every other.
    const infos = await Promise.all(names.map((n) => this.info(n).catch((e: unknown) => (e instanceof AppError && e.code === 'STORE_UNAVAILABLE' ? null : Promise.reject(e)))));
    return infos.filter((i): i is DatasetInfo => i !== null);
  }

  async info(name: string): Promise<DatasetInfo | null> {
    const stored = await this.storedInfo(name);
    return stored && infoOf(name, stored);
  }

  async records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }> {
    const { info, records } = await this.read(name);
    return { info: infoOf(name, info), records };
  }

  /** The dataset's summary as stored, and its records. */
  private async read(name: string): Promise<{ info: StoredInfo; records: DataRecord[] }> {
    for (let attempt = 1; ; attempt++) {
      let text: string;
      try {
        text = await readFile(this.file(name), 'utf8');
      } catch (e: unknown) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw await this.rootFolder.nothingFound(datasetNotFound(name));
        throw e;
      }
      const end = text.indexOf('\n');
      if (end < 0) {
        const stored = parseStored(name, text);
        if ('records' in stored) return { info: legacyStored(stored), records: stored.records };
        try {
          return { info: stored, records: await this.readRows(name, stored) };
        } catch (e: unknown) {
          // A PUT replaced the rows file after the summary was read: read the new summary.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= READ_ATTEMPTS) throw e;
          continue;
        }
      }
      return { info: JSON.parse(text.slice(0, end)) as StoredInfo, records: JSON.parse(text.slice(end + 1)) as DataRecord[] };
    }
  }

  /**
   * The records the summary counts in its rows file, read a megabyte at a time and parsed a few
   * thousand per turn of the event loop: no string of the whole file is ever built (V8 cannot hold
   * one past 512 MiB, and building it would hold up scoring).
   */
  private async readRows(name: string, info: StoredInfo): Promise<DataRecord[]> {
    const start = info.rowsStart ?? 0;
    if (!info.rowsFile || !info.rowsBytes || info.rowsBytes <= start) return [];
    const path = join(this.root, info.rowsFile);
    const { size } = await stat(path);
    if (size < info.rowsBytes) throw shortRows(name, size, info.rowsBytes);
    const records: DataRecord[] = [];
    for await (const line of lines(path, start, info.rowsBytes)) {
      records.push(JSON.parse(line) as DataRecord);
      if (records.length % RECORDS_PER_TURN === 0) await yieldToEventLoop();
    }
    return records;
  }

  put(name: string, columns: readonly string[], records: readonly DataRecord[], categorical: readonly string[] = []): Promise<DatasetInfo> {
    return this.writes.run(name, async () => {
      const previous = await this.rowsOf(name);
      const info = await this.write(name, { rows: 0, columns: [...columns], updatedAt: '', ...withSchema(await contractOf(columns, records, categorical)), generation: newGeneration() }, records, []);
      await this.dropRows(previous, info);
      return infoOf(name, info);
    });
  }

  /**
   * Writes `records` as a new rows file, then the summary naming it: readers see the old dataset
   * until the summary's rename, the new one after. A failure leaves the old dataset as it was.
   */
  private async write(name: string, base: StoredInfo, records: readonly DataRecord[], appendKeys: string[]): Promise<StoredInfo> {
    await this.rootFolder.ensure();
    return this.withNewRows(name, base, (path) => writeRows(path, records), this.summaryOf(base, records.length, appendKeys));
  }

  /**
   * Fills a new rows file for the dataset `base` describes (`fill` returns its bytes), then writes
   * `summary` naming it; a failure removes the new file and leaves the dataset as it was.
   */
  private async withNewRows(name: string, base: StoredInfo, fill: (path: string) => Promise<number>, summary: StoredInfo): Promise<StoredInfo> {
    const rowsFile = `${name}.${base.generation ?? 'legacy'}.${randomBytes(4).toString('hex')}.rows`;
    const path = join(this.root, rowsFile);
    try {
      const info: StoredInfo = { ...summary, rowsFile, rowsBytes: await fill(path) };
      await writeFileAtomic(this.file(name), JSON.stringify(info));
      return info;
    } catch (e: unknown) {
      await rm(path, { force: true });
      throw e;
    }
  }

  /** The summary of `base` with `rows` records, updated now, without where its rows are. */
  private summaryOf(base: StoredInfo, rows: number, appendKeys: string[]): StoredInfo {
    return {
      rows,
      columns: base.columns,
      updatedAt: new Date().toISOString(),
      ...withSchema(base.schema),
      ...(base.generation ? { generation: base.generation } : {}),
      ...(appendKeys.length > 0 ? { appendKeys } : {}),
    };
  }

  append(name: string, records: readonly DataRecord[], options: AppendOptions = {}): Promise<AppendResult> {
    const { maxRows, expect, key } = options;
    return this.writes.run(name, async () => {
      const stored = await this.storedInfo(name);
      if (!stored) throw datasetNotFound(name);
      if (expect && !sameDataset(stored, expect)) throw datasetChanged(name);
      const keys = stored.appendKeys ?? [];
      const fingerprint = key === undefined ? '' : appendFingerprint(records);
      if (key !== undefined) {
        for (const k of keys) {
          const match = matchKey(k, key, fingerprint);
          if (match === 'same') return { ...infoOf(name, stored), replayed: true as const };
          if (match === 'other') throw keyReused(name, key);
        }
      }
      const appendKeys = key === undefined ? keys : [...keys, rememberedKey(key, fingerprint)].slice(-REMEMBERED_APPEND_KEYS);
      const total = stored.rows + records.length;
      if (!stored.rowsFile || (maxRows !== undefined && records.length >= maxRows)) {
        // An older form of file, or no stored row kept: the rows are written anew.
        const all = stored.rowsFile ? [...records] : [...(await this.read(name)).records, ...records];
        const kept = maxRows !== undefined && all.length > maxRows ? all.slice(all.length - maxRows) : all;
        const info = await this.write(name, stored, kept, appendKeys);
        await this.dropRows(stored, info);
        return infoOf(name, info);
      }
      const rowsPath = join(this.root, stored.rowsFile);
      const text = linesOfBatch(records);
      const counted = stored.rowsBytes ?? 0;
      const file = await open(rowsPath, 'r+');
      try {
        const { size } = await file.stat();
        if (size < counted) throw shortRows(name, size, counted);
        // Bytes beyond the count are an append that crashed before its summary: cut them off first.
        await file.truncate(counted);
      } finally {
        await file.close();
      }
      // maxRows: the oldest rows stay in the file but before rowsStart, out of the dataset.
      const drop = maxRows !== undefined && total > maxRows ? total - maxRows : 0;
      const rowsStart = drop > 0 ? await offsetAfterLines(rowsPath, stored.rowsStart ?? 0, counted, drop) : (stored.rowsStart ?? 0);
      await appendFile(rowsPath, text);
      // On disk before the summary that counts them: a power loss cannot leave a summary counting
      // rows the disk never got.
      await syncPath(rowsPath);
      const rowsBytes = counted + Buffer.byteLength(text);
      const appended: StoredInfo = { ...this.summaryOf(stored, total - drop, appendKeys), rowsFile: stored.rowsFile, ...(rowsStart > 0 ? { rowsStart } : {}), rowsBytes };
      if (rowsStart > rowsBytes - rowsStart) {
        // More dropped bytes than kept: the kept ones are copied to a new file (bytes, not records),
        // so a rolling window costs its appends' records, amortised, not the whole window each time.
        const { rowsStart: _dropped, ...kept } = appended;
        const info = await this.withNewRows(name, stored, (path) => copyRange(rowsPath, rowsStart, rowsBytes, path), kept);
        await this.dropRows(stored, info);
        return infoOf(name, info);
      }
      await writeFileAtomic(this.file(name), JSON.stringify(appended));
      return infoOf(name, appended);
    });
  }

  delete(name: string): Promise<boolean> {
    return this.writes.run(name, async () => {
      const stored = await this.rowsOf(name);
      try {
        await rm(this.file(name));
      } catch (e: unknown) {
        // Not found, unless the folder itself is gone (moved, unmounted): then the store is away.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.rootFolder.nothingFound(false);
        throw e;
      }
      await this.dropRows(stored, null);
      return true;
    });
  }

  /**
   * The rows file a summary names, for a PUT or delete that replaces or removes it: none when the
   * summary is missing or cannot be read (a damaged file must not stop its replacement; rows it
   * named are swept at the next start).
   */
  private async rowsOf(name: string): Promise<StoredInfo | null> {
    try {
      return await this.storedInfo(name);
    } catch {
      return null;
    }
  }

  /** The dataset's summary as stored (its first line), or null when there is none. */
  private async storedInfo(name: string): Promise<StoredInfo | null> {
    try {
      const stored = parseStored(name, await firstLine(this.file(name)));
      return 'records' in stored ? legacyStored(stored) : stored;
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.rootFolder.nothingFound(null);
      throw e;
    }
  }

  /**
   * Deletes the rows file of `previous` unless `now` still names it. The write it follows is done
   * (its summary renamed into place): a failure here leaves a file no summary names, which the next
   * start sweeps, and does not make the write fail.
   */
  private async dropRows(previous: StoredInfo | null, now: StoredInfo | null): Promise<void> {
    if (previous?.rowsFile && previous.rowsFile !== now?.rowsFile) await rm(join(this.root, previous.rowsFile), { force: true }).catch(() => undefined);
  }

  private file(name: string): string {
    return join(this.root, `${name}.json`);
  }
}

/**
 * The rows files of `root` that no summary names: what a crash between writing a PUT's rows and
 * its summary (or after the summary, before the old rows were deleted) leaves behind.
 */
export async function orphanedRowsFiles(root: string): Promise<string[]> {
  const files = await readdir(root);
  const named = new Set<string>();
  // Datasets whose summary cannot be read: their rows may be all that is left of them, and stay.
  const unreadable: string[] = [];
  for (const f of files.filter((f) => f.endsWith('.json'))) {
    try {
      const stored = JSON.parse(await firstLine(join(root, f))) as StoredInfo;
      if (stored.rowsFile) named.add(stored.rowsFile);
    } catch (e: unknown) {
      // Gone since the listing: it names nothing.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.push(`${f.slice(0, -'.json'.length)}.`);
    }
  }
  return files.filter((f) => f.endsWith('.rows') && !named.has(f) && !unreadable.some((prefix) => f.startsWith(prefix))).map((f) => join(root, f));
}

/** A rows file shorter than its summary counts: written by something else, or cut by a disk fault. */
function shortRows(name: string, size: number, counted: number): AppError {
  return damaged(name, `its rows file holds ${size} bytes where its summary counts ${counted}`);
}

/** A dataset whose files cannot be read as this store wrote them (see {@link FsDatasetStore.list}). */
function damaged(name: string, why: string): AppError {
  return new AppError('STORE_UNAVAILABLE', `dataset "${name}" is damaged: ${why}; nothing was changed; replace it with PUT or delete it`);
}

/** A summary file's content, parsed; a damaged dataset's error when it is not JSON (cut by a disk fault). */
function parseStored(name: string, text: string): StoredInfo | LegacyDataset {
  try {
    return JSON.parse(text) as StoredInfo | LegacyDataset;
  } catch {
    throw damaged(name, 'its summary file is not JSON');
  }
}

/** Records as lines of JSON, each ended by a newline (an append's: its body's size at most). */
function linesOfBatch(records: readonly DataRecord[]): string {
  let text = '';
  for (const r of records) text += JSON.stringify(r) + '\n';
  return text;
}

/**
 * Writes records to a new file as lines of JSON, a few thousand per turn of the event loop, and
 * flushes it to the disk; returns its bytes. No string of the whole file is built.
 */
async function writeRows(path: string, records: readonly DataRecord[]): Promise<number> {
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    for (let i = 0; i < records.length; i += RECORDS_PER_TURN) {
      if (i > 0) await yieldToEventLoop();
      const chunk = Buffer.from(linesOfBatch(records.slice(i, i + RECORDS_PER_TURN)));
      // Whole: a write may take part of the bytes (at the file-size limit it takes what fits, and
      // the next fails with EFBIG), and the rest is written, or fails, rather than lost.
      for (let at = 0; at < chunk.length; ) at += (await file.write(chunk, at, chunk.length - at)).bytesWritten;
      bytes += chunk.length;
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return bytes;
}

/** The lines of a file's bytes from `start` to `end` (each ended by a newline), read a megabyte at a time. */
async function* lines(path: string, start: number, end: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: READ_CHUNK })) {
    const parts = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = parts.pop() as string;
    for (const line of parts) if (line !== '') yield line;
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}

/** The byte offset just after the `count`-th newline from `start` (below `end`). */
async function offsetAfterLines(path: string, start: number, end: number, count: number): Promise<number> {
  let seen = 0;
  let at = start;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: READ_CHUNK })) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
      if (++seen === count) return at + i + 1;
    }
    at += bytes.length;
  }
  return end;
}

/** Copies a file's bytes from `start` to `end` into a new file, flushed to the disk; returns their count. */
async function copyRange(from: string, start: number, end: number, to: string): Promise<number> {
  await pipeline(createReadStream(from, { start, end: end - 1, highWaterMark: READ_CHUNK }), createWriteStream(to));
  await syncPath(to);
  return end - start;
}

function withSchema(schema: ColumnContract[] | undefined): { schema?: ColumnContract[] } {
  return schema ? { schema } : {};
}

/** A dataset's summary from what its file stores, without what only the store reads. */
function infoOf(name: string, { appendKeys: _k, rowsFile: _f, rowsStart: _s, rowsBytes: _b, ...info }: StoredInfo): DatasetInfo {
  return { name, ...info };
}

/** A dataset file as written before summaries had a line of their own. */
interface LegacyDataset {
  columns: string[];
  updatedAt: string;
  schema?: ColumnContract[];
  records: DataRecord[];
}

/** The summary of a dataset file of the one-object form. */
function legacyStored(stored: LegacyDataset): StoredInfo {
  return { rows: stored.records.length, columns: stored.columns, updatedAt: stored.updatedAt, ...withSchema(stored.schema) };
}

/** A file's first line (all of it when it has one line), read a chunk at a time. */
async function firstLine(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.alloc(HEAD_CHUNK);
      const { bytesRead } = await file.read(buffer, 0, HEAD_CHUNK, null);
      const chunk = buffer.subarray(0, bytesRead);
      const end = chunk.indexOf(0x0a);
      if (end >= 0 || bytesRead === 0) {
        chunks.push(end >= 0 ? chunk.subarray(0, end) : chunk);
        return Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(chunk);
    }
  } finally {
    await file.close();
  }
}
