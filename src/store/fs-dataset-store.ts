import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataRecord } from '../nce';
import { type ColumnContract, contractOf } from './dataset-contract';
import { type AppendOptions, datasetChanged, type DatasetInfo, type DatasetStore, datasetNotFound, sameShape } from './dataset-store';
import { KeyedSerial, writeFileAtomic } from './files';

/**
 * Datasets on a filesystem: `root/<name>.json` holds columns, rows and records. Every write goes
 * to a temporary file renamed over the old one, so a crash leaves the old or the new dataset,
 * never a mix. Appends rewrite the file: fine for the embedded mode's sizes. Writes to one dataset
 * run one after another (the embedded mode is one process): two concurrent appends both land, and
 * an append never brings back a dataset deleted meanwhile.
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
    try {
      return (await this.records(name)).info;
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'DATASET_NOT_FOUND') return null;
      throw e;
    }
  }

  async records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }> {
    let text: string;
    try {
      text = await readFile(this.file(name), 'utf8');
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw datasetNotFound(name);
      throw e;
    }
    const stored = JSON.parse(text) as { columns: string[]; updatedAt: string; schema?: ColumnContract[]; records: DataRecord[] };
    const info: DatasetInfo = { name, rows: stored.records.length, columns: stored.columns, updatedAt: stored.updatedAt, ...(stored.schema ? { schema: stored.schema } : {}) };
    return { info, records: stored.records };
  }

  put(name: string, columns: readonly string[], records: readonly DataRecord[]): Promise<DatasetInfo> {
    return this.writes.run(name, () => this.write(name, columns, records, contractOf(columns, records)));
  }

  private async write(name: string, columns: readonly string[], records: readonly DataRecord[], schema: ColumnContract[] | undefined): Promise<DatasetInfo> {
    const updatedAt = new Date().toISOString();
    await writeFileAtomic(this.file(name), JSON.stringify({ columns, updatedAt, ...(schema ? { schema } : {}), records }));
    return { name, rows: records.length, columns: [...columns], updatedAt, ...(schema ? { schema } : {}) };
  }

  append(name: string, records: readonly DataRecord[], options: AppendOptions = {}): Promise<DatasetInfo> {
    const { maxRows, expect } = options;
    return this.writes.run(name, async () => {
      const existing = await this.records(name);
      if (expect && !sameShape(existing.info, expect)) throw datasetChanged(name);
      const all = [...existing.records, ...records];
      return this.write(name, existing.info.columns, maxRows !== undefined && all.length > maxRows ? all.slice(all.length - maxRows) : all, existing.info.schema);
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
