import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors';
import { canonicalText, type DataRecord } from '../nce';
import type { ColumnContract } from './dataset-contract';

/** What is known about a stored dataset without reading its rows. */
export interface DatasetInfo {
  name: string;
  rows: number;
  columns: string[];
  updatedAt: string;
  /** What each column may hold, fixed at creation; absent for datasets created before contracts. */
  schema?: ColumnContract[];
  /**
   * Changes whenever a PUT replaces the dataset, never on an append: an append checked against one
   * generation lands in it or nowhere. Absent for datasets stored before it existed.
   */
  generation?: string;
}

/** How an append keeps a dataset. */
export interface AppendOptions {
  /** Keep only the newest this many rows. */
  maxRows?: number;
  /** The dataset the records were checked against (see {@link DatasetStore.append}). */
  expect?: Pick<DatasetInfo, 'columns' | 'schema' | 'generation'>;
  /**
   * The client's name for this append (its `Idempotency-Key`): when one of the dataset's last
   * {@link REMEMBERED_APPEND_KEYS} appends since its last PUT had it, nothing is appended again.
   */
  key?: string;
}

/** What an append left: the dataset's summary, and whether its key had already been appended (then nothing was). */
export type AppendResult = DatasetInfo & { replayed?: true };

/**
 * Append keys a dataset remembers (the newest; a PUT forgets them all). A client retrying an
 * append whose answer it lost (a timeout, a dropped connection) retries within seconds or minutes,
 * long before a thousand other appends have passed.
 */
export const REMEMBERED_APPEND_KEYS = 1000;

/** Named tabular datasets that models are trained on. */
export interface DatasetStore {
  list(): Promise<DatasetInfo[]>;
  /** The dataset's summary, or null when it does not exist. */
  info(name: string): Promise<DatasetInfo | null>;
  /** Its records in order (throws when it does not exist). */
  records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }>;
  /**
   * Creates or replaces a dataset; its contract is inferred from these records, with the columns
   * `categorical` names (`?categorical=`) categorical even where no record has a value there yet.
   */
  put(name: string, columns: readonly string[], records: readonly DataRecord[], categorical?: readonly string[]): Promise<DatasetInfo>;
  /**
   * Appends records (same columns); with `maxRows`, keeps only the newest that many. With
   * `expect`, appends only while the dataset is still the one the records were checked against
   * (its generation, and its columns and contract), else throws DATASET_CHANGED and appends nothing.
   * With `key`, appends nothing when an append with that key already landed (see {@link AppendOptions.key}).
   */
  append(name: string, records: readonly DataRecord[], options?: AppendOptions): Promise<AppendResult>;
  /** Deletes a dataset; false when there was none. */
  delete(name: string): Promise<boolean>;
}

/** Whether a dataset is still the one `expect` describes: no PUT replaced it, its columns and contract are the same. */
export function sameDataset(info: Pick<DatasetInfo, 'columns' | 'schema' | 'generation'>, expect: NonNullable<AppendOptions['expect']>): boolean {
  return info.generation === expect.generation && shapeText(info.columns, info.schema) === shapeText(expect.columns, expect.schema);
}

/** A new dataset generation (see {@link DatasetInfo.generation}). */
export function newGeneration(): string {
  return randomBytes(8).toString('hex');
}

/** A dataset's columns and contract as text, the form a store compares them in. */
export function shapeText(columns: readonly string[], schema: DatasetInfo['schema']): string {
  return JSON.stringify([columns, schema ?? null]);
}

/** The answer to an append whose Idempotency-Key an earlier append of other records had. */
export function keyReused(name: string, key: string): AppError {
  return new AppError('IDEMPOTENCY_KEY_REUSED', `an append of dataset "${name}" with Idempotency-Key "${key}" landed before with other records: nothing was appended; a retry sends the same records under the same key, a new append a new key`);
}

/**
 * What tells an append's records apart under its key: the SHA-256 of their fields and values, each
 * record's fields in name order, missing ones (null, or left out) left out, texts in their
 * canonical form (see `canonicalText`). The same records have one however they were sent (CSV,
 * NDJSON or JSON, fields in any order, 10.00 or 10, an empty cell or no field, JSON's true or
 * Excel's TRUE, a text in NFC or NFD), as fields are taken by name and a category by its
 * canonical form. Records spelt canonically hash as they did before texts were made so: a key
 * remembered then still matches its retry. One spelt otherwise (TRUE, a text in NFD) and retried
 * across that upgrade (or between replicas of both releases) is told 422 IDEMPOTENCY_KEY_REUSED,
 * its first append kept: a retry that is refused, never one appended twice. So is a JSON append
 * of a blank text ("") retried across the release that reads such a text as missing (see the API's
 * `textField`): it hashed as a text before, and hashes as the field left out now.
 */
export function appendFingerprint(records: readonly DataRecord[]): string {
  const hash = createHash('sha256');
  for (const r of records) {
    const names = Object.keys(r)
      .filter((n) => r[n] !== null && r[n] !== undefined)
      .sort();
    const fields = names.map((n) => {
      const v = r[n];
      return [n, typeof v === 'string' ? canonicalText(v) : v];
    });
    hash.update(JSON.stringify(fields));
    hash.update('\n');
  }
  return hash.digest('base64url').slice(0, 22);
}

/**
 * An append key as remembered: the key, a newline and its records' fingerprint. Keys remembered
 * before the fingerprint was (the key alone) match any records.
 */
export function rememberedKey(key: string, fingerprint: string): string {
  return `${key}\n${fingerprint}`;
}

/** Whether a remembered key (see {@link rememberedKey}) is `key`'s, and with the same records: 'same', 'other', or null (another key). */
export function matchKey(remembered: string, key: string, fingerprint: string): 'same' | 'other' | null {
  if (remembered === key) return 'same';
  if (!remembered.startsWith(`${key}\n`)) return null;
  return remembered.slice(key.length + 1) === fingerprint ? 'same' : 'other';
}

/** The error an append throws when its dataset was replaced after the records were checked. */
export function datasetChanged(name: string): AppError {
  return new AppError('DATASET_CHANGED', `dataset "${name}" was replaced while the records were checked against it: nothing was appended; check them against its current columns and send them again`);
}

/**
 * The error for a dataset that does not exist (a job then fails without retries), as a store and
 * the API's routes answer it; `pointer` names the request's field that named it.
 */
export function datasetNotFound(name: string, pointer?: string): AppError {
  return new AppError('DATASET_NOT_FOUND', `dataset "${name}" does not exist`, pointer);
}
