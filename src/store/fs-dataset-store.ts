import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataRecord } from '../nce';
import { type ColumnContract, contractOf } from './dataset-contract';
import { type AppendOptions, type AppendResult, datasetChanged, type DatasetInfo, type DatasetStore, datasetNotFound, newGeneration, REMEMBERED_APPEND_KEYS, sameDataset } from './dataset-store';
import { KeyedSerial, writeFileAtomic } from './files';

/**
 * What the first line of a dataset file holds: everything {@link DatasetInfo} says but its name,
 * and the keys of its latest appends (see `AppendOptions.key`), oldest first.
 */
type StoredInfo = Omit<DatasetInfo, 'name'> & { appendKeys?: string[] };

/** Bytes read at a time while looking for the end of a dataset file's first line. */
const HEAD_CHUNK = 64 * 1024;

/**
 * Datasets on a filesystem: `root/<name>.json` holds, on its first line, the dataset's summary
 * (columns, rows, contract, generation) and, on its second, the records, so listing or inspecting
 * datasets reads a line, not every row. (Files written before hold one JSON object with the
 * records inside; they are read whole.) Every write goes to a temporary file renamed over the old
 * one, so a crash leaves the old or the new dataset, never a mix. Appends rewrite the file: fine
 * for the embedded mode's sizes. Writes to one dataset run one after another (the embedded mode is
 * one process): two concurrent appends both land, and an append never brings back a dataset
 * deleted meanwhile.
 */
export class FsDatasetStore implements DatasetStore {
  private readonly writes = new KeyedSerial();

  constructor(private readonly root: string) {}

  async list(): Promise<DatasetInfo[]> {
    let files: string[];
    try {
      files = await readdir(this.root);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const names = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    const infos = await Promise.all(names.map((n) => this.info(n)));
    return infos.filter((i): i is DatasetInfo => i !== null);
  }

  async info(name: string): Promise<DatasetInfo | null> {
    let head: string;
    try {
      head = await firstLine(this.file(name));
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const stored = JSON.parse(head) as StoredInfo | LegacyDataset;
    return 'records' in stored ? legacyInfo(name, stored) : infoOf(name, stored);
  }

  async records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }> {
    const { info, records } = await this.read(name);
    return { info: infoOf(name, info), records };
  }

  /** The dataset's first line as stored, and its records. */
  private async read(name: string): Promise<{ info: StoredInfo; records: DataRecord[] }> {
    let text: string;
    try {
      text = await readFile(this.file(name), 'utf8');
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw datasetNotFound(name);
      throw e;
    }
    const end = text.indexOf('\n');
    if (end < 0) {
      const legacy = JSON.parse(text) as LegacyDataset;
      const { name: _, ...info } = legacyInfo(name, legacy);
      return { info, records: legacy.records };
    }
    return { info: JSON.parse(text.slice(0, end)) as StoredInfo, records: JSON.parse(text.slice(end + 1)) as DataRecord[] };
  }

  put(name: string, columns: readonly string[], records: readonly DataRecord[]): Promise<DatasetInfo> {
    return this.writes.run(name, () => this.write(name, columns, records, contractOf(columns, records), newGeneration(), []));
  }

  private async write(name: string, columns: readonly string[], records: readonly DataRecord[], schema: ColumnContract[] | undefined, generation: string | undefined, appendKeys: string[]): Promise<DatasetInfo> {
    const info: StoredInfo = { rows: records.length, columns: [...columns], updatedAt: new Date().toISOString(), ...(schema ? { schema } : {}), ...(generation ? { generation } : {}) };
    await writeFileAtomic(this.file(name), `${JSON.stringify(appendKeys.length > 0 ? { ...info, appendKeys } : info)}\n${JSON.stringify(records)}`);
    return { name, ...info };
  }

  append(name: string, records: readonly DataRecord[], options: AppendOptions = {}): Promise<AppendResult> {
    const { maxRows, expect, key } = options;
    return this.writes.run(name, async () => {
      const existing = await this.read(name);
      if (expect && !sameDataset(existing.info, expect)) throw datasetChanged(name);
      const keys = existing.info.appendKeys ?? [];
      if (key !== undefined && keys.includes(key)) return { ...infoOf(name, existing.info), replayed: true as const };
      const all = [...existing.records, ...records];
      const kept = maxRows !== undefined && all.length > maxRows ? all.slice(all.length - maxRows) : all;
      return this.write(name, existing.info.columns, kept, existing.info.schema, existing.info.generation, key === undefined ? keys : [...keys, key].slice(-REMEMBERED_APPEND_KEYS));
    });
  }

  delete(name: string): Promise<boolean> {
    return this.writes.run(name, async () => {
      try {
        await rm(this.file(name));
        return true;
      } catch (e: unknown) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
    });
  }

  private file(name: string): string {
    return join(this.root, `${name}.json`);
  }
}

/** A dataset file as written before summaries had a line of their own. */
interface LegacyDataset {
  columns: string[];
  updatedAt: string;
  schema?: ColumnContract[];
  records: DataRecord[];
}

/** A dataset's summary from its first line, without what only the store reads. */
function infoOf(name: string, { appendKeys: _, ...info }: StoredInfo): DatasetInfo {
  return { name, ...info };
}

function legacyInfo(name: string, stored: LegacyDataset): DatasetInfo {
  return { name, rows: stored.records.length, columns: stored.columns, updatedAt: stored.updatedAt, ...(stored.schema ? { schema: stored.schema } : {}) };
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
