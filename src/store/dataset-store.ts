import { AppError } from '../errors';
import type { DataRecord } from '../nce';
import type { ColumnContract } from './dataset-contract';

/** What is known about a stored dataset without reading its rows. */
export interface DatasetInfo {
  name: string;
  rows: number;
  columns: string[];
  updatedAt: string;
  /** What each column may hold, fixed at creation; absent for datasets created before contracts. */
  schema?: ColumnContract[];
}

/** Named tabular datasets that models are trained on. */
export interface DatasetStore {
  list(): Promise<DatasetInfo[]>;
  /** The dataset's summary, or null when it does not exist. */
  info(name: string): Promise<DatasetInfo | null>;
  /** Its records in order (throws when it does not exist). */
  records(name: string): Promise<{ info: DatasetInfo; records: DataRecord[] }>;
  /** Creates or replaces a dataset; its contract is inferred from these records. */
  put(name: string, columns: readonly string[], records: readonly DataRecord[]): Promise<DatasetInfo>;
  /** Appends records (same columns); with `maxRows`, keeps only the newest that many. */
  append(name: string, records: readonly DataRecord[], maxRows?: number): Promise<DatasetInfo>;
  /** Deletes a dataset; false when there was none. */
  delete(name: string): Promise<boolean>;
}

/** The error a store throws for a dataset that does not exist (a job then fails without retries). */
export function datasetNotFound(name: string): AppError {
  return new AppError('DATASET_NOT_FOUND', `dataset "${name}" does not exist`);
}
