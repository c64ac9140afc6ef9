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
  type UploadPartOptions,
} from "../../ports/blob-store.ts";
import { checkCompletion, checkPartNumber, newOpaqueId, parseExpectedDigest, type StoredPart } from "../blob-rules.ts";
import { fileRangeStream, writeBodyToFile, writeBytesToFile } from "./file-streams.ts";
import { isCode, listDir, moveIntoPlace, newTempPath, pruneEmptyDirs, syncDirs, syncFile, writeJson } from "./files.ts";
import { readSegmentIndex, removeSegmented, SEGMENT_INDEX, segmentedDir, segmentedSize, segmentedStream, type SegmentIndex } from "./segmented.ts";
import { KeyedMutex } from "./keyed-mutex.ts";

/**
 * Blobs as files under `root`: key `a/b/c` is the file `<root>/a/b/c`.
 * Hidden directories sit beside the keys (a key segment may not start
 * with "."): `.tmp/` holds files being written, renamed into place only once
 * complete and verified; `.multipart/<uploadId>/` holds an upload's `key`
 * and its parts as `<partNumber>.<etag>`; completion renames that directory
 * to `.segmented/<key>/` (see segmented.ts), so no byte is copied.
 * Parts are not flushed one by one: completion flushes them all before the
 * blob can be indexed (core/storage-layout.ts, "Durability").
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
      await removeSegmented(this.#segmentedDirOf(key));
      return { size: written.size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    const found = await this.#locate(key);
    if (!found) return null;
    const offset = range?.offset ?? 0;
    const length = range?.length ?? found.size - offset;
    const body = found.index
      ? segmentedStream(this.#segmentedDirOf(key), found.index, offset, length)
      : fileRangeStream(this.#pathOf(key), found.size, offset, length);
    return { body, size: found.size };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const found = await this.#locate(key);
    return found ? { size: found.size } : null;
  }

  async delete(key: string): Promise<void> {
    const path = this.#pathOf(key);
    await rm(path, { force: true });
    await removeSegmented(this.#segmentedDirOf(key));
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

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array, options: UploadPartOptions = {}): Promise<UploadedPart> {
    checkPartNumber(partNumber);
    const dir = this.#uploadDir(uploadId);
    const etag = newOpaqueId();
    const temp = await newTempPath(this.#root);
    try {
      // The bytes are the kernel's once written: the caller may reuse the buffer. No flush here:
      // completion flushes every part before the blob is indexed (storage-layout.ts, "Durability").
      await writeBytesToFile(temp, body, options.bodyReleased);
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
      const index: SegmentIndex = {
        parts: parts.map(({ partNumber, etag }) => ({ file: `${partNumber}.${etag}`, size: stored.get(partNumber)?.size ?? 0 })),
      };
      const listed = new Set(index.parts.map((p) => p.file));
      await Promise.all([...stored].filter(([n, p]) => !listed.has(`${n}.${p.etag}`)).map(([n, p]) => rm(join(dir, `${n}.${p.etag}`))));
      // Parts were written without a flush (storage-layout.ts, "Durability"): the blob becomes
      // durable here, before the caller indexes it: every part's bytes, the directory naming
      // them, the index, and the rename into .segmented/ with any parent mkdir created.
      await forEachBounded(index.parts, SYNC_CONCURRENCY, (part) => syncFile(join(dir, part.file)));
      await writeJson(this.#root, join(dir, SEGMENT_INDEX), index);
      await syncDirs(dir, dir);
      const target = this.#segmentedDirOf(key);
      await rm(path, { force: true });
      await removeSegmented(target);
      await moveIntoPlace(dir, target);
      await syncDirs(this.#root, dirname(target));
      return { size: segmentedSize(index) };
    });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    if (!isUploadId(uploadId)) return;
    const dir = this.#uploadDir(uploadId);
    await this.#uploads.run(uploadId, async () => {
      if ((await uploadKey(dir)) === key) await rm(dir, { recursive: true, force: true });
    });
  }

  async discardPart(key: string, uploadId: string, part: UploadedPart): Promise<void> {
    if (!isUploadId(uploadId) || !/^[0-9a-f]{32}$/.test(part.etag)) return;
    const dir = this.#uploadDir(uploadId);
    await this.#uploads.run(uploadId, async () => {
      if ((await uploadKey(dir)) === key) await rm(join(dir, `${part.partNumber}.${part.etag}`), { force: true });
    });
  }

  #pathOf(key: string): string {
    const segments = key.split("/");
    const unsafe = key.includes("..") || segments.some((s) => s === "" || s.startsWith(".") || /[\\\0]/.test(s));
    if (unsafe) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return join(this.#root, ...segments);
  }

  #segmentedDirOf(key: string): string {
    this.#pathOf(key);
    return segmentedDir(this.#root, key.split("/"));
  }

  /** A key is a plain file, or a completed multipart upload kept as its parts. */
  async #locate(key: string): Promise<{ size: number; index?: SegmentIndex } | null> {
    try {
      const info = await stat(this.#pathOf(key));
      if (info.isFile()) return { size: info.size };
    } catch (error) {
      if (!isCode(error, "ENOENT") && !isCode(error, "ENOTDIR")) throw error;
    }
    const index = await readSegmentIndex(this.#segmentedDirOf(key)).catch((error: unknown) => {
      if (isCode(error, "ENOTDIR")) return null;
      throw error;
    });
    return index ? { size: segmentedSize(index), index } : null;
  }

  #uploadDir(uploadId: string): string {
    if (!isUploadId(uploadId)) throw new MultipartError(`no multipart upload ${uploadId}`);
    return join(this.#root, ".multipart", uploadId);
  }

  async #checkUpload(dir: string, key: string, uploadId: string): Promise<void> {
    if ((await uploadKey(dir)) !== key) throw new MultipartError(`no multipart upload ${uploadId} for ${key}`);
  }
}

/** Part flushes in flight at a completion: enough for the disk to write several at once, few descriptors. */
const SYNC_CONCURRENCY = 8;

async function forEachBounded<T>(items: readonly T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
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
