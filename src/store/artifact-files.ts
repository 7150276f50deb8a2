import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Artifact, fromArtifact, type Manifest, MANIFEST_FILE, type ModelState, NceError, WEIGHTS_FILE } from '../nce';

/**
 * A model artifact as files: `manifest.json` and `weights.bin` in a folder. The engine turns
 * bytes into model state and back (`toArtifact`, `fromArtifact`); reading and writing them is the
 * store's. The registry keeps versions this way, and the CLI's `--artifact DIR` too.
 */

/**
 * Writes an artifact into `dir` (created if needed): weights first, manifest last, each through a
 * temporary file and a rename, so a reader never sees a half-written file and a directory without
 * a manifest is not a model.
 */
export async function saveArtifact(dir: string, a: Artifact): Promise<void> {
  // And the folders above it: the command line's --artifact out/my-model makes out/ too.
  await makeFolder(dir);
  await writeFileAtomic(join(dir, WEIGHTS_FILE), a.weights);
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(a.manifest, null, 2) + '\n');
}

/**
 * Reads and verifies the artifact in `dir`.
 * @param where - how a refusal names it: the folder by default (the command line's own), a
 *   registry's model and version for the API, whose answers name no path of the server's
 */
export async function loadArtifact(dir: string, where = `in ${dir}`): Promise<{ manifest: Manifest; state: ModelState }> {
  const read = async <T>(file: string, reader: (path: string) => Promise<T>): Promise<T> => {
    try {
      return await reader(join(dir, file));
    } catch (e: unknown) {
      throw new NceError('ARTIFACT_INVALID', `no model artifact ${where} (${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
  };
  const text = await read(MANIFEST_FILE, (path) => readFile(path, 'utf8'));
  const weights = await read(WEIGHTS_FILE, (path) => readFile(path));
  return fromArtifact(text, weights);
}

/**
 * Creates `dir` and any missing folder above it, as `mkdir -p` does. Not Node's recursive mkdir:
 * under a file system that refuses new entries with ENOENT (procfs, a folder under /proc), that
 * one loops for ever. Here the refusal is the error.
 */
export async function makeFolder(dir: string): Promise<void> {
  try {
    await makeOneFolder(dir);
  } catch (e: unknown) {
    const parent = dirname(dir);
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw e;
    await makeFolder(parent);
    await makeOneFolder(dir);
  }
}

/** Creates `dir`, there already or not, but not the folders above it (ENOENT when they are missing). */
async function makeOneFolder(dir: string): Promise<void> {
  await mkdir(dir).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  });
}

/**
 * Writes `path` (creating its directory, not the folders above it: a store's folder gone from
 * under the service, as an unmounted volume, fails the write instead of being made again, empty)
 * through a temporary file in that directory renamed over it: readers, and a restart after a
 * crash, see the old content or the new one, never part of it.
 */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  await makeOneFolder(dirname(path));
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    // On the disk before the rename makes it the file: after a power loss the rename must not
    // point at content the disk never got (an empty or cut file).
    await syncPath(tmp);
    await rename(tmp, path);
  } catch (e: unknown) {
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename itself, on the disk: best effort (some file systems refuse to sync a folder).
  await syncPath(dirname(path)).catch(() => undefined);
}

/** Flushes a file's (or a folder's) content to the disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
