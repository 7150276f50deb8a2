/** Artifacts, datasets, the scheduler and the job journal are written this way. */
export { makeFolder, syncPath, writeFileAtomic } from './artifact-files';

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
