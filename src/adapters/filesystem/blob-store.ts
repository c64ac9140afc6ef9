import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  DigestMismatchError,
  MultipartError,
  type BlobBody,
  type BlobStore,
  type ByteRange,
  type ObjectInfo,
  type ObjectRead,
  type PutOptions,
  type UploadedPart,
} from "../../ports/blob-store.ts";
import { checkCompletion, checkPartNumber, newOpaqueId, parseExpectedDigest, type StoredPart } from "../blob-rules.ts";
import { appendFileTo, fileRangeStream, writeBodyToFile } from "./file-streams.ts";
import { isCode, listDir, moveIntoPlace, newTempPath, pruneEmptyDirs } from "./files.ts";
import { KeyedMutex } from "./keyed-mutex.ts";

/**
 * Blobs as files under `root`: key `a/b/c` is the file `<root>/a/b/c`.
 * Two hidden directories sit beside the keys (a key segment may not start
 * with "."): `.tmp/` holds files being written, renamed into place only once
 * complete and verified; `.multipart/<uploadId>/` holds an upload's `key`
 * and its parts as `<partNumber>.<etag>` until completion concatenates them.
 */
export class FilesystemBlobStore implements BlobStore {
  readonly #root: string;
  /** Per upload id: a part's replacement and the completion never interleave. */
  readonly #uploads = new KeyedMutex();

  constructor(root: string) {
    this.#root = resolve(root);
  }

  async put(key: string, body: BlobBody | Uint8Array, options: PutOptions = {}): Promise<ObjectInfo> {
    const path = this.#pathOf(key);
    const expected = options.digest === undefined ? undefined : parseExpectedDigest(options.digest);
    const temp = await newTempPath(this.#root);
    try {
      const written = await writeBodyToFile(temp, body, { length: options.length, algorithm: expected?.algorithm });
      if (expected && written.digest !== expected.digest) {
        throw new DigestMismatchError(expected.digest, written.digest ?? "");
      }
      await moveIntoPlace(temp, path);
      return { size: written.size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    const path = this.#pathOf(key);
    const info = await this.head(key);
    if (!info) return null;
    const offset = range?.offset ?? 0;
    const length = range?.length ?? info.size - offset;
    return { body: fileRangeStream(path, info.size, offset, length), size: info.size };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const info = await stat(this.#pathOf(key));
      return info.isFile() ? { size: info.size } : null;
    } catch (error) {
      if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#pathOf(key);
    await rm(path, { force: true });
    // Keys like uploads/<id>/tail-<v> would otherwise leave a directory per upload behind.
    await pruneEmptyDirs(this.#root, dirname(path));
  }

  async createMultipartUpload(key: string): Promise<string> {
    this.#pathOf(key); // an unusable key fails now, not after every part is written
    const uploadId = newOpaqueId();
    const dir = this.#uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "key"), key);
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    checkPartNumber(partNumber);
    const dir = this.#uploadDir(uploadId);
    const etag = newOpaqueId();
    const temp = await newTempPath(this.#root);
    try {
      await writeBodyToFile(temp, body, {});
      await this.#uploads.run(uploadId, async () => {
        await this.#checkUpload(dir, key, uploadId);
        const replaced = (await listDir(dir)).filter((name) => name.startsWith(`${partNumber}.`));
        await moveIntoPlace(temp, join(dir, `${partNumber}.${etag}`));
        await Promise.all(replaced.map((name) => rm(join(dir, name), { force: true })));
      });
      return { partNumber, etag };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<ObjectInfo> {
    const path = this.#pathOf(key);
    const dir = this.#uploadDir(uploadId);
    return this.#uploads.run(uploadId, async () => {
      await this.#checkUpload(dir, key, uploadId);
      const stored = await storedParts(dir);
      checkCompletion(parts, stored);
      const temp = await newTempPath(this.#root);
      try {
        const target = await open(temp, "wx");
        try {
          for (const { partNumber, etag } of parts) await appendFileTo(target, join(dir, `${partNumber}.${etag}`));
          await target.datasync();
        } finally {
          await target.close();
        }
        await moveIntoPlace(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      await rm(dir, { recursive: true, force: true });
      return { size: parts.reduce((size, { partNumber }) => size + (stored.get(partNumber)?.size ?? 0), 0) };
    });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    if (!isUploadId(uploadId)) return;
    const dir = this.#uploadDir(uploadId);
    await this.#uploads.run(uploadId, async () => {
      if ((await uploadKey(dir)) === key) await rm(dir, { recursive: true, force: true });
    });
  }

  #pathOf(key: string): string {
    const segments = key.split("/");
    const unsafe = key.includes("..") || segments.some((s) => s === "" || s.startsWith(".") || /[\\\0]/.test(s));
    if (unsafe) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return join(this.#root, ...segments);
  }

  #uploadDir(uploadId: string): string {
    if (!isUploadId(uploadId)) throw new MultipartError(`no multipart upload ${uploadId}`);
    return join(this.#root, ".multipart", uploadId);
  }

  async #checkUpload(dir: string, key: string, uploadId: string): Promise<void> {
    if ((await uploadKey(dir)) !== key) throw new MultipartError(`no multipart upload ${uploadId} for ${key}`);
  }
}

/** Ids this store issues (`newOpaqueId`); anything else cannot name an upload directory. */
function isUploadId(uploadId: string): boolean {
  return /^[0-9a-f]{32}$/.test(uploadId);
}

async function uploadKey(dir: string): Promise<string | null> {
  try {
    return await readFile(join(dir, "key"), "utf8");
  } catch (error) {
    if (isCode(error, "ENOENT")) return null;
    throw error;
  }
}

async function storedParts(dir: string): Promise<Map<number, StoredPart>> {
  const parts = new Map<number, StoredPart>();
  for (const name of await listDir(dir)) {
    const match = /^(\d+)\.([0-9a-f]{32})$/.exec(name);
    if (!match?.[1] || !match[2]) continue;
    const { size } = await stat(join(dir, name));
    parts.set(Number(match[1]), { etag: match[2], size });
  }
  return parts;
}
