import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BlobInfo, ManifestRecord, MetadataStore, Page, UploadRecord } from "../../ports/metadata-store.ts";
import { byCodePoint, pageOfNames } from "../paging.ts";
import { isCode, listDir, readJson, removeFile, writeJson } from "./files.ts";
import { KeyedMutex } from "./keyed-mutex.ts";
import { InvalidNameError, MetadataPaths, nameOfFile, REPOSITORY_MARKER } from "./metadata-paths.ts";

interface TagFile {
  digest: string;
}

/** Lock key of the global blob index; repository keys are prefixed, so cannot meet it. */
const BLOB_INDEX = "blob-index";
const repositoryLock = (name: string) => `repository:${name}`;

/**
 * Metadata as small JSON files (layout in core/storage-layout.ts). Each file
 * is replaced atomically; changes that read before they write hold an
 * in-process lock for their repository (or the blob index), so this store
 * is consistent only when one process owns `root`.
 */
export class FilesystemMetadataStore implements MetadataStore {
  readonly #paths: MetadataPaths;
  readonly #locks = new KeyedMutex();

  constructor(root: string) {
    this.#paths = new MetadataPaths(resolve(root));
  }

  async getBlob(digest: string): Promise<BlobInfo | null> {
    return absentIfInvalid(null, () => readJson<BlobInfo>(this.#paths.blob(digest)));
  }

  async putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo> {
    const path = this.#paths.blob(info.digest);
    return this.#locks.run(BLOB_INDEX, async () => {
      const stored = await readJson<BlobInfo>(path);
      if (stored) return stored;
      await this.#write(path, info);
      return info;
    });
  }

  async linkBlob(repository: string, info: BlobInfo): Promise<void> {
    const path = this.#paths.link(repository, info.digest);
    await this.#locks.run(repositoryLock(repository), async () => {
      await this.#write(path, info);
      await this.#register(repository);
    });
  }

  async getBlobLink(repository: string, digest: string): Promise<BlobInfo | null> {
    return absentIfInvalid(null, () => readJson<BlobInfo>(this.#paths.link(repository, digest)));
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const path = this.#paths.link(repository, digest);
    return this.#locks.run(repositoryLock(repository), () => removeFile(path));
  }

  /**
   * Writes the manifest before the referrer entry and tags that lead to it
   * (and `deleteManifest` removes them in the opposite order), so a reader
   * never follows a tag or referrer to a manifest that is not there.
   */
  async putManifest(repository: string, record: ManifestRecord, tags: string[]): Promise<void> {
    const path = this.#paths.manifest(repository, record.digest);
    const tagPaths = tags.map((tag) => this.#paths.tag(repository, tag));
    const referrer = record.subject === undefined ? null : this.#paths.referrer(repository, record.subject, record.digest);
    await this.#locks.run(repositoryLock(repository), async () => {
      const previous = await readJson<ManifestRecord>(path);
      await this.#write(path, record);
      if (previous?.subject !== undefined && previous.subject !== record.subject) {
        await removeFile(this.#paths.referrer(repository, previous.subject, record.digest));
      }
      if (referrer) await this.#write(referrer, { digest: record.digest });
      for (const tagPath of tagPaths) await this.#write(tagPath, { digest: record.digest } satisfies TagFile);
      await this.#register(repository);
    });
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    return absentIfInvalid(null, () => readJson<ManifestRecord>(this.#paths.manifest(repository, digest)));
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null> {
    return absentIfInvalid(null, async () => {
      const target = await readJson<TagFile>(this.#paths.tag(repository, tag));
      return target ? readJson<ManifestRecord>(this.#paths.manifest(repository, target.digest)) : null;
    });
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    return absentIfInvalid([], async () => pageOfNames(await this.#tagNames(repository), page));
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const path = this.#paths.tag(repository, tag);
    return this.#locks.run(repositoryLock(repository), () => removeFile(path));
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const path = this.#paths.manifest(repository, digest);
    return this.#locks.run(repositoryLock(repository), async () => {
      const record = await readJson<ManifestRecord>(path);
      if (!record) return false;
      for (const tag of await this.#tagNames(repository)) {
        const tagPath = this.#paths.tag(repository, tag);
        if ((await readJson<TagFile>(tagPath))?.digest === digest) await removeFile(tagPath);
      }
      if (record.subject !== undefined) await removeFile(this.#paths.referrer(repository, record.subject, digest));
      return removeFile(path);
    });
  }

  async listReferrers(repository: string, subject: string): Promise<ManifestRecord[]> {
    return absentIfInvalid([], async () => {
      const dir = this.#paths.referrers(repository, subject);
      const digests: string[] = [];
      for (const algorithm of await listDir(dir)) {
        for (const file of await listDir(join(dir, algorithm))) digests.push(`${algorithm}:${nameOfFile(file)}`);
      }
      const records: ManifestRecord[] = [];
      for (const digest of digests.sort(byCodePoint)) {
        const record = await readJson<ManifestRecord>(this.#paths.manifest(repository, digest));
        if (record?.subject === subject) records.push(record);
      }
      return records;
    });
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return absentIfInvalid(false, async () => (await readJson(join(this.#paths.repository(repository), REPOSITORY_MARKER))) !== null);
  }

  async listRepositories(page: Page): Promise<string[]> {
    return pageOfNames(await findRepositories(this.#paths.repositories, ""), page);
  }

  async createUpload(record: UploadRecord): Promise<void> {
    const path = this.#paths.upload(record.id);
    await this.#locks.run(repositoryLock(record.repository), () => this.#write(path, record));
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord | null> {
    const record = await absentIfInvalid(null, () => readJson<UploadRecord>(this.#paths.upload(id)));
    return record?.repository === repository ? record : null;
  }

  async updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean> {
    const path = this.#paths.upload(record.id);
    return this.#locks.run(repositoryLock(record.repository), async () => {
      const stored = await readJson<UploadRecord>(path);
      if (stored?.repository !== record.repository || stored.version !== expectedVersion) return false;
      await this.#write(path, record);
      return true;
    });
  }

  async deleteUpload(repository: string, id: string): Promise<void> {
    const path = this.#paths.upload(id);
    await this.#locks.run(repositoryLock(repository), async () => {
      if ((await readJson<UploadRecord>(path))?.repository === repository) await removeFile(path);
    });
  }

  /** Reads every upload record: expiry is a background sweep, and uploads are few and short-lived. */
  async listStaleUploads(createdBefore: number, limit: number): Promise<UploadRecord[]> {
    const stale: UploadRecord[] = [];
    for (const file of await listDir(this.#paths.uploads)) {
      const record = await readJson<UploadRecord>(join(this.#paths.uploads, file));
      if (record && record.createdAt < createdBefore) stale.push(record);
    }
    return stale.sort((a, b) => a.createdAt - b.createdAt).slice(0, Math.max(0, limit));
  }

  async #tagNames(repository: string): Promise<string[]> {
    return (await listDir(this.#paths.tags(repository))).map(nameOfFile);
  }

  async #register(repository: string): Promise<void> {
    const marker = join(this.#paths.repository(repository), REPOSITORY_MARKER);
    if ((await readJson(marker)) === null) await this.#write(marker, { name: repository });
  }

  #write(path: string, value: unknown): Promise<void> {
    return writeJson(this.#paths.root, path, value);
  }
}

/** Reads answer "absent" for a name that could never have been stored (see InvalidNameError). */
async function absentIfInvalid<T>(absent: T, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidNameError) return absent;
    throw error;
  }
}

/**
 * Registered repository names under `dir`: a directory holding the marker is
 * one, and every directory not starting with "_" may hold more below it.
 */
async function findRepositories(dir: string, name: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, "ENOENT")) return [];
    throw error;
  }
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name === REPOSITORY_MARKER && name !== "") found.push(name);
    else if (entry.isDirectory() && !entry.name.startsWith("_")) {
      found.push(...(await findRepositories(join(dir, entry.name), name === "" ? entry.name : `${name}/${entry.name}`)));
    }
  }
  return found;
}
