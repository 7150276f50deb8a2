import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storeConditionOf } from '../errors';
import type { Artifact } from '../nce';
import { loadArtifact, saveArtifact } from './artifact-files';
import { KeyedSerial, makeFolder, StoreRoot, syncPath } from './files';
import { DELETION_MEMORY_MS, type LoadedModel, type ModelStore, newVersionId, type SaveOptions, type StoreWritability, VERSION_PATTERN, deletedMeanwhile, versionNotFound, versionsToPrune } from './model-store';

const CURRENT = 'CURRENT';
const CANDIDATE = 'CANDIDATE';
const JOB = 'JOB';
/** Folder of one file per deleted model name: when it was deleted (see ModelStore.deletedAt). */
const TOMBSTONES = '.deletions';

/** Whether a deletion at `at` is still remembered; an unreadable date is not. */
function remembered(at: Date): boolean {
  return Date.now() - at.getTime() < DELETION_MEMORY_MS;
}

/**
 * The model registry on a filesystem: `root/<name>/<version>/{manifest.json,weights.bin}` and
 * `root/<name>/CURRENT` naming the current version. A version is written into a temporary
 * directory and renamed into place, and CURRENT is replaced by a rename, so readers never see a
 * half-written version. Saves, promotes and deletes of one model run one at a time in this
 * process (the one that owns the directory), so they cannot interleave: two deletes are one
 * delete and a no-op, and a promote sees the model wholly before or wholly after a delete.
 */
export class FsModelStore implements ModelStore {
  readonly savesCurrentAtOnce = false;
  private readonly serial = new KeyedSerial();

  /**
   * @param options.fixedRoot the root was made at start (the service) and is not made again: a
   * root gone since (moved, unmounted) fails writes (STORE_UNAVAILABLE) and readiness, instead of
   * filling an empty folder made in its place. The command line makes it on first save.
   */
  private readonly rootFolder: StoreRoot;

  constructor(
    private readonly root: string,
    options: { fixedRoot?: boolean } = {},
  ) {
    // A root gone from under the service reads as the store away, not as models deleted: the
    // loaded ones go on scoring, as through any store outage.
    this.rootFolder = new StoreRoot(root, 'models', options.fixedRoot);
  }

  async list(): Promise<string[]> {
    const names = (await this.readdirOrNothing(this.root)).filter((n) => !n.startsWith('.'));
    const current = await Promise.all(names.map(async (n) => ((await this.currentVersion(n)) ? n : null)));
    return current.filter((n): n is string => n !== null).sort();
  }

  async names(): Promise<string[]> {
    const names = (await this.readdirOrNothing(this.root)).filter((n) => !n.startsWith('.'));
    const held = await Promise.all(names.map(async (n) => ((await this.versions(n)).length > 0 ? n : null)));
    return held.filter((n): n is string => n !== null).sort();
  }

  async versions(name: string): Promise<string[]> {
    return (await this.readdirOrNothing(join(this.root, name))).filter((v) => VERSION_PATTERN.test(v)).sort();
  }

  async currentVersion(name: string): Promise<string | null> {
    try {
      const v = (await readFile(join(this.root, name, CURRENT), 'utf8')).trim();
      return VERSION_PATTERN.test(v) ? v : null;
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return this.rootFolder.nothingFound(null);
      throw e;
    }
  }

  private async readdirOrNothing(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.rootFolder.nothingFound([]);
      throw e;
    }
  }

  async load(name: string, version: string): Promise<LoadedModel> {
    const { manifest, state } = await loadArtifact(join(this.root, name, version), `for ${name} version ${version}`);
    return { name, version, manifest, state };
  }

  save(name: string, artifact: Artifact, options: SaveOptions = {}): Promise<string> {
    return this.serial.run(name, () => this.saveNow(name, artifact, options));
  }

  async versionOfJob(name: string, jobId: string): Promise<string | null> {
    for (const version of (await this.versions(name)).reverse()) {
      if ((await this.readNote(name, version, JOB)) === jobId) return version;
    }
    return null;
  }

  private async saveNow(name: string, artifact: Artifact, options: SaveOptions): Promise<string> {
    // Run in the model's queue, as delete is: the delete either came first and is seen here, or
    // comes after and removes this version with the rest.
    if (options.unlessDeletedAfter !== undefined && ((await this.deletedAt(name))?.getTime() ?? -Infinity) >= options.unlessDeletedAfter.getTime()) throw deletedMeanwhile(name);
    const dir = join(this.root, name);
    await this.rootFolder.ensure();
    await makeFolder(dir);
    const version = newVersionId();
    const tmp = join(dir, `.tmp-${version}`);
    try {
      await saveArtifact(tmp, artifact);
      if (options.candidate !== undefined) await writeFile(join(tmp, CANDIDATE), options.candidate + '\n');
      if (options.jobId !== undefined) await writeFile(join(tmp, JOB), options.jobId + '\n');
      await rename(tmp, join(dir, version));
    } catch (e: unknown) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    if (options.candidate === undefined) {
      try {
        await this.setCurrent(name, version);
      } catch (e: unknown) {
        // The pointer still names the version before (setCurrent failed before its rename): the
        // new one goes too, as a failed save leaves nothing behind (its job says nothing was
        // changed; left, it was listed and could be promoted). Renamed out of the version list
        // first; a temporary folder left by a crash is the start-up sweep's.
        const away = join(dir, `.tmp-unsaved-${version}`);
        await rename(join(dir, version), away)
          .then(() => rm(away, { recursive: true, force: true }))
          .catch(() => undefined);
        throw e;
      }
    }
    return version;
  }

  candidateReason(name: string, version: string): Promise<string | null> {
    return this.readNote(name, version, CANDIDATE);
  }

  /** A one-line file kept beside a version's artifact, or null when it has none. */
  private async readNote(name: string, version: string, note: string): Promise<string | null> {
    try {
      return (await readFile(join(this.root, name, version, note), 'utf8')).trim();
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  promote(name: string, version: string): Promise<void> {
    return this.serial.run(name, async () => {
      if (!VERSION_PATTERN.test(version) || !(await this.versions(name)).includes(version)) {
        throw versionNotFound(name, version);
      }
      await this.load(name, version);
      await this.setCurrent(name, version);
    });
  }

  prune(name: string, keep: number, spare: readonly string[] = []): Promise<string[]> {
    return this.serial.run(name, async () => {
      const doomed = versionsToPrune(await this.versions(name), await this.currentVersion(name), keep, spare);
      for (const version of doomed) {
        // Renamed out of the version list first; a crash before the removal leaves a temporary
        // folder that the start-up sweep removes.
        const away = join(this.root, name, `.tmp-pruned-${version}`);
        await rename(join(this.root, name, version), away);
        await rm(away, { recursive: true, force: true });
      }
      return doomed;
    });
  }

  async delete(name: string): Promise<boolean> {
    await this.forgetOldDeletions();
    return this.serial.run(name, async () => {
      const dir = join(this.root, name);
      const remember = async (): Promise<void> => {
        await this.rootFolder.ensure();
        await makeFolder(join(this.root, TOMBSTONES));
        await writeFile(join(this.root, TOMBSTONES, name), `${new Date().toISOString()}\n`);
      };
      // Remembered first, so a job enqueued before cannot bring the model back. On a full disk,
      // after the model's files are gone: deleting is how space is freed, and it was refused.
      let remembered = true;
      try {
        await remember();
      } catch (e: unknown) {
        if (storeConditionOf((e as NodeJS.ErrnoException).code) !== 'STORAGE_FULL') throw e;
        remembered = false;
      }
      try {
        return await this.deleteFiles(name, dir);
      } finally {
        if (!remembered) await remember().catch(() => undefined);
      }
    });
  }

  /** Removes a model's folder (renamed away first, so readers see the whole model or none of it); false when it has none. */
  private async deleteFiles(name: string, dir: string): Promise<boolean> {
    if ((await this.currentVersion(name)) === null && (await this.versions(name)).length === 0) return false;
    const doomed = join(this.root, `.deleted-${name}-${randomBytes(3).toString('hex')}`);
    try {
      await rename(dir, doomed);
    } catch (e: unknown) {
      // Gone meanwhile (another process sharing the directory): nothing left to delete.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  async deletedAt(name: string): Promise<Date | null> {
    let at: Date;
    try {
      at = new Date((await readFile(join(this.root, TOMBSTONES, name), 'utf8')).trim());
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return remembered(at) ? at : null;
  }

  /**
   * Removes the records of deletions older than {@link DELETION_MEMORY_MS}: a delete of a name that
   * never existed leaves one too. Each is checked and removed in its name's turn, so a delete of
   * that name running now cannot have its fresh record removed.
   */
  private async forgetOldDeletions(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.root, TOMBSTONES));
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const name of names) {
      await this.serial.run(name, async () => {
        if ((await this.deletedAt(name)) === null) await rm(join(this.root, TOMBSTONES, name), { force: true });
      });
    }
  }

  /** Writes and removes a small probe file in the root. */
  async writable(): Promise<StoreWritability> {
    const probe = join(this.root, `.probe-${randomBytes(3).toString('hex')}`);
    try {
      await this.rootFolder.ensure();
      await writeFile(probe, 'probe\n');
      await unlink(probe);
      return 'ok';
    } catch (e: unknown) {
      const code = (e as NodeJS.ErrnoException).code;
      if (storeConditionOf(code) === 'STORAGE_FULL') return 'full';
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'read-only';
      throw e;
    } finally {
      await rm(probe, { force: true }).catch(() => undefined);
    }
  }

  private async setCurrent(name: string, version: string): Promise<void> {
    const dir = join(this.root, name);
    const pointer = join(dir, `.${CURRENT}-${version}-${randomBytes(3).toString('hex')}`);
    try {
      await writeFile(pointer, version + '\n');
      // On the disk before the rename makes it the pointer: after a power loss an empty CURRENT
      // would name none of the model's versions, and nothing would be served until a promote.
      await syncPath(pointer);
      await rename(pointer, join(dir, CURRENT));
    } catch (e: unknown) {
      // A full or read-only disk: no pointer file left behind beside the one that stands.
      await rm(pointer, { force: true }).catch(() => undefined);
      throw e;
    }
    await syncPath(dir).catch(() => undefined);
  }
}

