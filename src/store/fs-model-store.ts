import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadArtifact, saveArtifact, type Artifact } from '../nce';
import { type LoadedModel, type ModelStore, newVersionId, VERSION_PATTERN, versionNotFound } from './model-store';

const CURRENT = 'CURRENT';
const CANDIDATE = 'CANDIDATE';

/**
 * The model registry on a filesystem: `root/<name>/<version>/{manifest.json,weights.bin}` and
 * `root/<name>/CURRENT` naming the current version. A version is written into a temporary
 * directory and renamed into place, and CURRENT is replaced by a rename, so readers never see a
 * half-written version.
 */
export class FsModelStore implements ModelStore {
  constructor(private readonly root: string) {}

  async list(): Promise<string[]> {
    const names = (await readdirOrEmpty(this.root)).filter((n) => !n.startsWith('.'));
    const current = await Promise.all(names.map(async (n) => ((await this.currentVersion(n)) ? n : null)));
    return current.filter((n): n is string => n !== null).sort();
  }

  async versions(name: string): Promise<string[]> {
    return (await readdirOrEmpty(join(this.root, name))).filter((v) => VERSION_PATTERN.test(v)).sort();
  }

  async currentVersion(name: string): Promise<string | null> {
    try {
      const v = (await readFile(join(this.root, name, CURRENT), 'utf8')).trim();
      return VERSION_PATTERN.test(v) ? v : null;
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw e;
    }
  }

  async load(name: string, version: string): Promise<LoadedModel> {
    const { manifest, state } = await loadArtifact(join(this.root, name, version));
    return { name, version, manifest, state };
  }

  async save(name: string, artifact: Artifact, options: { candidate?: string } = {}): Promise<string> {
    const dir = join(this.root, name);
    await mkdir(dir, { recursive: true });
    const version = newVersionId();
    const tmp = join(dir, `.tmp-${version}`);
    try {
      await saveArtifact(tmp, artifact);
      if (options.candidate !== undefined) await writeFile(join(tmp, CANDIDATE), options.candidate + '\n');
      await rename(tmp, join(dir, version));
    } catch (e: unknown) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    if (options.candidate === undefined) await this.setCurrent(name, version);
    return version;
  }

  async candidateReason(name: string, version: string): Promise<string | null> {
    try {
      return (await readFile(join(this.root, name, version, CANDIDATE), 'utf8')).trim();
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async promote(name: string, version: string): Promise<void> {
    if (!VERSION_PATTERN.test(version) || !(await this.versions(name)).includes(version)) {
      throw versionNotFound(name, version);
    }
    await this.load(name, version);
    await this.setCurrent(name, version);
  }

  async delete(name: string): Promise<boolean> {
    const dir = join(this.root, name);
    if ((await this.currentVersion(name)) === null && (await this.versions(name)).length === 0) return false;
    // Renamed away first, so readers see the whole model or none of it.
    const doomed = join(this.root, `.deleted-${name}-${randomBytes(3).toString('hex')}`);
    await rename(dir, doomed);
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  private async setCurrent(name: string, version: string): Promise<void> {
    const dir = join(this.root, name);
    const pointer = join(dir, `.${CURRENT}-${version}-${randomBytes(3).toString('hex')}`);
    await writeFile(pointer, version + '\n');
    await rename(pointer, join(dir, CURRENT));
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
