import { RegistryError } from "../core/errors.ts";

/**
 * A full disk (or quota) under the registry: ENOSPC and EDQUOT from file writes, SQLITE_FULL from
 * the metadata database. Answered as 507 Insufficient Storage (RFC 4918 § 11.5: the server cannot
 * store what the request needs), not 500: nothing is wrong with the request or the code, the
 * operator has to act, and clients show the message. The spec has no code for it; UNKNOWN is what
 * distribution answers for failures of its storage.
 */
export function storageFullError(error: unknown): RegistryError | null {
  if (!isStorageFull(error)) return null;
  warnOperator();
  return new RegistryError(
    "UNKNOWN",
    "the registry's storage is full; nothing of this request was kept. The operator must free space (npm run gc) or grow the disk; then push again",
    { status: 507 },
  );
}

function isStorageFull(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && typeof cause === "object" && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { code, errcode, message } = cause as { code?: unknown; errcode?: unknown; message?: unknown };
    if (code === "ENOSPC" || code === "EDQUOT") return true;
    // node:sqlite: SQLITE_FULL is result code 13, "database or disk is full".
    if (errcode === 13 || (typeof message === "string" && message.includes("database or disk is full"))) return true;
  }
  return false;
}

/** Logged loudly once, then at most every 10 minutes with how many requests failed since: a full disk fails every push. */
const REPEAT_MS = 10 * 60 * 1000;
let lastWarned = 0;
let failedSince = 0;

function warnOperator(): void {
  const now = Date.now();
  failedSince++;
  if (lastWarned !== 0 && now - lastWarned < REPEAT_MS) return;
  console.error(
    `STORAGE FULL: the registry's disk has no space left; pushes fail with 507 until space is freed (npm run gc, or grow the disk)` +
      (lastWarned === 0 ? "" : ` (${failedSince} requests failed for it since the last warning)`),
  );
  lastWarned = now;
  failedSince = 0;
}
