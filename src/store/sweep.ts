import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { orphanedRowsFiles } from './fs-dataset-store';

/** A temporary file of `writeFileAtomic`: `<file>.<12 hex>.tmp`. */
const ATOMIC_TMP = /\.[0-9a-f]{12}\.tmp$/;

/** Leftovers inside a model's folder: a version folder not yet renamed into place, a pointer not yet moved. */
const MODEL_LEFTOVER = /^\.(tmp-|CURRENT-)/;

/** Leftovers at the top of the models folder: a model renamed away by a delete, a readiness probe. */
const ROOT_LEFTOVER = /^\.(deleted-|probe-)/;

async function entries(dir: string): Promise<{ name: string; dir: boolean }[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((e) => ({ name: e.name, dir: e.isDirectory() }));
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Removes what a crash can leave behind in the embedded mode's folders, before anything else
 * writes there: version folders and CURRENT pointers that were never renamed into place, models
 * renamed away by a delete that did not finish, readiness probes, temporary files of atomic
 * writes (datasets, the job journal, schedules), and dataset rows files no summary names (a PUT
 * or delete cut short). Returns the paths removed. Only one process may
 * own the folders (the embedded mode), so nothing found here is another writer's work in progress.
 */
export async function sweepLeftovers(modelsDir: string, datasetsDir: string): Promise<string[]> {
  const doomed: string[] = [];
  for (const e of await entries(modelsDir)) {
    const path = join(modelsDir, e.name);
    if (ROOT_LEFTOVER.test(e.name) || ATOMIC_TMP.test(e.name)) doomed.push(path);
    else if (e.dir) {
      for (const inner of await entries(path)) {
        if (MODEL_LEFTOVER.test(inner.name) || ATOMIC_TMP.test(inner.name)) doomed.push(join(path, inner.name));
      }
    }
  }
  const datasets = await entries(datasetsDir);
  for (const e of datasets) if (ATOMIC_TMP.test(e.name)) doomed.push(join(datasetsDir, e.name));
  if (datasets.length > 0) doomed.push(...(await orphanedRowsFiles(datasetsDir)));
  for (const path of doomed) await rm(path, { recursive: true, force: true });
  return doomed;
}
