import { stat } from 'node:fs/promises';
import { AppError } from '../errors';
import { makeFolder } from './artifact-files';

/** Artifacts, datasets, the scheduler and the job journal are written this way. */
export { makeFolder, syncPath, writeFileAtomic } from './artifact-files';

/**
 * A file store's root folder. Made on first write (the command line), or, `fixed`, made at start
 * (the service) and only checked since: a root gone from under the service (moved, unmounted)
 * fails writes and reads (STORE_UNAVAILABLE) instead of being made again, empty, or read as a
 * store with nothing in it.
 */
export class StoreRoot {
  constructor(
    readonly path: string,
    /** What it holds, for messages: "models", "datasets". */
    private readonly holds: string,
    private readonly fixed = false,
  ) {}

  /** Before a write: the root, made when not fixed. */
  async ensure(): Promise<void> {
    if (this.fixed) await stat(this.path);
    else await makeFolder(this.path);
  }

  /** `nothing`, as a read that found nothing answers it, unless the fixed root itself is gone: then STORE_UNAVAILABLE. */
  async nothingFound<T>(nothing: T): Promise<T> {
    if (this.fixed) {
      await stat(this.path).catch((e: unknown) => {
        throw new AppError('STORE_UNAVAILABLE', `the ${this.holds} folder is gone (${(e as NodeJS.ErrnoException).code ?? 'unreadable'}: moved or unmounted): nothing was read or changed`, undefined, { cause: e });
      });
    }
    return nothing;
  }
}

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
