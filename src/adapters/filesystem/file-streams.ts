/** Streaming between blob bodies and files, so no blob is ever held whole in memory. */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { markOwnChunk, type BlobBody } from "../../ports/blob-store.ts";
import type { DigestAlgorithm } from "../../ports/metadata-store.ts";
import { checkLength, chunksOf } from "../blob-rules.ts";
import { writeAll, writeWhole } from "./files.ts";

const CHUNK = 1024 * 1024;

export interface WrittenFile {
  size: number;
  /** `<algorithm>:<hex>` of the bytes written, when an algorithm was asked for. */
  digest: string | null;
}

/** Writes `body` to a new file at `path`, hashing as it goes, and flushes it to disk. */
export async function writeBodyToFile(
  path: string,
  body: BlobBody | Uint8Array,
  options: { length?: number; algorithm?: DigestAlgorithm },
): Promise<WrittenFile> {
  const { algorithm } = options;
  const hash = algorithm ? createHash(algorithm) : null;
  let size = 0;
  const file = await open(path, "wx");
  try {
    for await (const chunk of chunksOf(body, options.length)) {
      hash?.update(chunk);
      size += chunk.byteLength;
      await writeAll(file, chunk);
    }
    checkLength(options.length, size);
    await file.datasync();
  } finally {
    await file.close();
  }
  return { size, digest: hash ? `${algorithm}:${hash.digest("hex")}` : null };
}

/**
 * Writes `bytes` to a new file at `path`, without flushing it: an upload's part, flushed with
 * the others when the upload completes (core/storage-layout.ts, "Durability"). `written` is
 * called once `bytes` is no longer read.
 */
export async function writeBytesToFile(path: string, bytes: Uint8Array, written?: () => void): Promise<void> {
  const file = await open(path, "wx");
  try {
    await writeWhole(file, bytes);
    written?.();
  } finally {
    await file.close();
  }
}

/** Appends the whole file at `sourcePath` to `target`, a chunk at a time. */
export async function appendFileTo(target: FileHandle, sourcePath: string): Promise<void> {
  const source = await open(sourcePath, "r");
  try {
    const buffer = new Uint8Array(CHUNK);
    for (;;) {
      const { bytesRead } = await source.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) return;
      await writeAll(target, buffer.subarray(0, bytesRead));
    }
  } finally {
    await source.close();
  }
}

/**
 * `length` bytes of the file at `path` from `offset`, read as the consumer
 * pulls. The file is opened on the first pull, so a body that is dropped
 * unread (a HEAD, a client gone) holds no descriptor; the stream closes it at
 * the end, on error or on cancel. `size` is the size the caller reported: if
 * the file has changed since, the stream fails rather than serve other bytes.
 */
export function fileRangeStream(path: string, size: number, offset: number, length: number): BlobBody {
  let file: FileHandle | null = null;
  let opened = false;
  let position = offset;
  const end = offset + length;
  const close = async () => {
    const handle = file;
    file = null;
    await handle?.close();
  };
  // highWaterMark 0: no read-ahead, so nothing is opened until the first read.
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!opened) {
          opened = true;
          file = await open(path, "r");
          const current = (await file.stat()).size;
          if (current !== size) throw new Error(`${path} changed size from ${size} to ${current} while being read`);
        }
        const wanted = Math.min(CHUNK, end - position);
        if (wanted <= 0 || !file) {
          await close();
          return controller.close();
        }
        const buffer = new Uint8Array(wanted);
        const { bytesRead } = await file.read(buffer, 0, wanted, position);
        if (bytesRead === 0) throw new Error(`${path} ended at byte ${position}, before the ${end} expected`);
        position += bytesRead;
        // A fresh buffer per chunk, read into and handed on whole: the Node runtime frees it once
        // the socket has written it (ports/blob-store.ts, markOwnChunk).
        controller.enqueue(bytesRead === wanted ? markOwnChunk(buffer) : buffer.subarray(0, bytesRead));
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}
