/** Artifacts, datasets, the scheduler and the job journal are written this way. */
export { writeFileAtomic } from './artifact-files';

/** Runs tasks one after another per key (a file, a dataset): a task starts once every earlier one for its key has settled. */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task, task);
    const settled = result.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return result;
  }

  /** Settles once every task queued so far has settled. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}

/**
 * The condition behind a filesystem errno, as the API and failed jobs name it (never the raw
 * errno), or null for one that says nothing about the store. ENOENT and ENOTDIR under a store
 * operation mean the store vanished under it (a read-only or unmounted volume reports that way too).
 */
export function storeConditionOf(errno: unknown): 'STORAGE_FULL' | 'STORE_UNAVAILABLE' | null {
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'STORAGE_FULL';
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
    case 'EIO':
    case 'ENOENT':
    case 'ENOTDIR':
      return 'STORE_UNAVAILABLE';
    default:
      return null;
  }
}
