/**
 * Making sure DATA_DIR can hold data before anything serves, with the real reason when it
 * cannot. Node's `mkdir(dir, { recursive: true })` is not used: under /proc it loops forever
 * (mkdir answers ENOENT for a parent that exists, and Node retries the parent), and on a
 * read-only file system it reports ENOENT for a nested path instead of EROFS. So each missing
 * component is made one at a time, from the deepest one that exists, and the error of the
 * first that fails is the one reported.
 */
import { constants } from "node:fs";
import { access, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

export class DataDirectoryError extends Error {}

/** Creates `dir` (and missing parents) and proves a file can be written there; throws a DataDirectoryError saying why not and what to do. */
export async function prepareDataDirectory(dir: string): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    const found = await statOrNull(existing);
    if (found === "missing") {
      const parent = dirname(existing);
      if (parent === existing) break;
      missing.unshift(existing);
      existing = parent;
      continue;
    }
    if (found instanceof Error) throw refusal(target, `${existing} cannot be examined: ${reasonOf(found, dirname(existing))}`, found);
    if (!found.isDirectory()) throw refusal(target, `${existing} is a file, not a directory`);
    break;
  }
  for (const component of missing) {
    try {
      await mkdir(component);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && (await statOrNull(component)) !== "missing") continue;
      throw refusal(target, `${component} cannot be created: ${reasonOf(error, dirname(component))}`, error);
    }
  }
  const probe = join(target, `.write-probe-${process.pid}`);
  try {
    await access(target, constants.W_OK | constants.X_OK);
    await writeFile(probe, "");
    await rm(probe);
  } catch (error) {
    throw refusal(target, `no file can be written in it: ${reasonOf(error, target)}`, error);
  }
}

async function statOrNull(path: string): Promise<Awaited<ReturnType<typeof stat>> | "missing" | Error> {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a component above is a file; the walk up finds it and says so.
    return code === "ENOENT" || code === "ENOTDIR" ? "missing" : (error as Error);
  }
}

/** What an errno means for someone choosing a data directory. `where` is the directory the write went into. */
function reasonOf(error: unknown, where: string): string {
  const code = (error as NodeJS.ErrnoException).code ?? "error";
  const uid = typeof process.getuid === "function" ? ` (uid ${process.getuid()})` : "";
  switch (code) {
    case "EROFS":
      return `${where} is on a read-only file system (EROFS)`;
    case "EACCES":
    case "EPERM":
      return `this user${uid} may not write in ${where} (${code})`;
    case "ENOENT":
      // The parent exists (it was just found or made), so the file system itself refuses: /proc, /sys and the like.
      return `${where} does not allow new directories or files, as in /proc or /sys (ENOENT)`;
    case "ENOSPC":
    case "EDQUOT":
      return `the disk holding ${where} is full (${code})`;
    case "ENOTDIR":
      return `a part of ${where} is a file, not a directory (ENOTDIR)`;
    default:
      return `${(error as Error).message}`;
  }
}

function refusal(target: string, why: string, cause?: unknown): DataDirectoryError {
  return new DataDirectoryError(
    `DATA_DIR ${target} cannot hold the registry's data: ${why}. Set DATA_DIR (or dataDir) to a directory this user may write, e.g. DATA_DIR=$HOME/registry-data`,
    cause === undefined ? undefined : { cause },
  );
}
