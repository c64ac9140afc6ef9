/**
 * What a crash or a failed write leaves in the filesystem blob store that no
 * record names: temporary files (.tmp/), multipart folders of uploads no
 * record knows (.multipart/<id>/), tails no upload points at
 * (uploads/<id>/tail-<n>), and objects the blob index does not name
 * (blobs/..., .segmented/...: bytes written by a process that died before
 * indexing them, or whose delete failed after their entry was removed).
 * Only what has not changed for `olderThanMs` counts: a write in progress
 * touches its file, and a push indexes its bytes within moments of writing
 * them.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { isCode, pruneEmptyDirs } from "./files.ts";
import { SEGMENT_INDEX } from "./segmented.ts";

export interface LeftoverReferences {
  /** Whether the blob index names this key. */
  isIndexed(key: string): boolean;
  multipartIds: Set<string>;
  tailKeys: Set<string>;
}

export interface LeftoverReport {
  files: number;
  bytes: number;
}

export async function sweepLeftovers(
  root: string,
  references: LeftoverReferences,
  options: { olderThanMs: number; now?: number; dryRun?: boolean },
): Promise<LeftoverReport> {
  const report: LeftoverReport = { files: 0, bytes: 0 };
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
  const remove = async (path: string, isDir: boolean) => {
    const { bytes, newest } = await measure(path);
    if (newest >= cutoff) return;
    report.files++;
    report.bytes += bytes;
    if (options.dryRun) return;
    await rm(path, { recursive: isDir, force: true });
    await pruneEmptyDirs(root, join(path, ".."));
  };
  const keyOf = (path: string) => relative(root, path).split(sep).join("/");

  for (const entry of await entries(join(root, ".tmp"))) await remove(join(root, ".tmp", entry.name), entry.isDirectory());
  for (const entry of await entries(join(root, ".multipart"))) {
    if (!references.multipartIds.has(entry.name)) await remove(join(root, ".multipart", entry.name), true);
  }
  for (const file of await filesUnder(join(root, "uploads"))) {
    if (!references.tailKeys.has(keyOf(file))) await remove(file, false);
  }
  for (const file of await filesUnder(join(root, "blobs"))) {
    if (!references.isIndexed(keyOf(file))) await remove(file, false);
  }
  const segmented = join(root, ".segmented");
  for (const dir of await segmentedObjects(segmented)) {
    if (!references.isIndexed(relative(segmented, dir).split(sep).join("/"))) await remove(dir, true);
  }
  return report;
}

async function entries(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, "ENOENT")) return [];
    throw error;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await entries(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/** Folders holding a segment index: each is one completed multipart object. */
async function segmentedObjects(dir: string): Promise<string[]> {
  const list = await entries(dir);
  if (list.some((entry) => entry.isFile() && entry.name === SEGMENT_INDEX)) return [dir];
  const found: string[] = [];
  for (const entry of list) if (entry.isDirectory()) found.push(...(await segmentedObjects(join(dir, entry.name))));
  return found;
}

/** Total size and latest modification time of a file or everything under a folder. */
async function measure(path: string): Promise<{ bytes: number; newest: number }> {
  const info = await stat(path).catch(() => null);
  if (!info) return { bytes: 0, newest: Number.POSITIVE_INFINITY };
  if (!info.isDirectory()) return { bytes: info.size, newest: info.mtimeMs };
  let bytes = 0;
  let newest = info.mtimeMs;
  for (const entry of await entries(path)) {
    const inner = await measure(join(path, entry.name));
    bytes += inner.bytes;
    newest = Math.max(newest, inner.newest);
  }
  return { bytes, newest };
}
