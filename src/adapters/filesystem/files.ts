/**
 * File primitives both filesystem stores build on. Every write goes to a
 * temporary file in the store's own `.tmp` directory (so on the same
 * filesystem), then is renamed into place: a reader or a process crash sees
 * the old file or the new one, never a partial one. What is flushed when
 * (an upload's parts only at completion) is in core/storage-layout.ts,
 * "Durability".
 */
import { readFile } from "node:fs";
import { mkdir, open, readdir, rename, rm, rmdir, type FileHandle } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { newOpaqueId } from "../blob-rules.ts";

export async function newTempPath(root: string): Promise<string> {
  const dir = join(root, ".tmp");
  await mkdir(dir, { recursive: true });
  return join(dir, newOpaqueId());
}

/**
 * The largest single write(2). Measured on the project's 2-core VM (Linux 6.18, ext4): copying
 * 512 MiB into the page cache costs 1.0-1.3 s of kernel CPU in writes of 1-8 MiB, 0.47 s in
 * writes of 512 KiB and 0.13-0.15 s in writes of 64-256 KiB (`dd if=/dev/zero bs=…`). The
 * kernel sizes page-cache folios by the write; the large ones are fresh memory that the
 * hypervisor (free page reporting) faults in page by page inside the copy. An 8 MiB part
 * written whole spent ~2.5 s per GiB there, on a third thread beside the event loop and the
 * client; in 256 KiB writes, ~0.3 s, for one more thread-pool round trip per slice.
 */
const WRITE_SLICE = 256 * 1024;

/** Slices of a new file's content in flight at once (each one thread-pool job). */
const SLICES_IN_FLIGHT = 4;

/**
 * `bytes` as the whole content of the new, empty `file`: WRITE_SLICE writes at their own
 * offsets, SLICES_IN_FLIGHT at a time. One after the other, each slice waited for a turn of
 * the event loop (busy hashing) before the next was issued: a part's write took about twice
 * as long, and a PATCH's answer waits for it (8 MiB PATCHes: 160 against 259 MiB/s).
 * On the first failure no further slice starts; the error is thrown once the others settled.
 */
export async function writeWhole(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const writeSlices = async () => {
    while (next < bytes.byteLength && !failure) {
      let offset = next;
      const end = Math.min(offset + WRITE_SLICE, bytes.byteLength);
      next = end;
      try {
        while (offset < end) offset += (await file.write(bytes, offset, end - offset, offset)).bytesWritten;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SLICES_IN_FLIGHT, Math.ceil(bytes.byteLength / WRITE_SLICE)) }, writeSlices));
  if (failure) throw (failure as { error: unknown }).error;
}

export async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await file.write(bytes, offset, Math.min(WRITE_SLICE, bytes.byteLength - offset));
    offset += bytesWritten;
  }
}

/** Renames `temp` to `path`, creating parent directories (again, if a delete pruned them meanwhile). */
export async function moveIntoPlace(temp: string, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dirname(path), { recursive: true });
    try {
      return await rename(temp, path);
    } catch (error) {
      if (!isCode(error, "ENOENT") || attempt === 3) throw error;
    }
  }
}

/** Flushes a file's bytes (and its size) to disk: `fdatasync`. */
export async function syncFile(path: string): Promise<void> {
  const file = await open(path, "r");
  try {
    await file.datasync();
  } finally {
    await file.close();
  }
}

/**
 * Flushes a directory's entries (the renames and creations in it) to disk, and those of its
 * parents up to `root` (inclusive): `mkdir -p` may have created any of them since the last flush.
 */
export async function syncDirs(root: string, dir: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const handle = await open(current, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (current === root || !current.startsWith(root + sep)) return;
  }
}

/** Removes `dir` and then its parents while they are empty, stopping at `root`. */
export async function pruneEmptyDirs(root: string, dir: string): Promise<void> {
  for (let current = dir; current.startsWith(root + sep); current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
  }
}

export async function writeJson(root: string, path: string, value: unknown): Promise<void> {
  const temp = await newTempPath(root);
  try {
    const file = await open(temp, "wx");
    try {
      await writeAll(file, new TextEncoder().encode(JSON.stringify(value)));
      await file.datasync();
    } finally {
      await file.close();
    }
    await moveIntoPlace(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * The parsed file, or null when there is none. A blob HEAD or a manifest GET
 * is mostly such reads; the callback `readFile` makes the same open, fstat,
 * read and close as the promise API's, with less overhead per call.
 */
export function readJson<T>(path: string): Promise<T | null> {
  return new Promise((resolve, reject) => {
    readFile(path, "utf8", (error, text) => {
      if (error) return isCode(error, "ENOENT") ? resolve(null) : reject(error);
      try {
        resolve(JSON.parse(text) as T);
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}

/** True when a file was removed. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (error) {
    if (isCode(error, "ENOENT")) return false;
    throw error;
  }
}

/** Entry names in `dir`; none when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isCode(error, "ENOENT")) return [];
    throw error;
  }
}

export function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
