/**
 * The leftover sweep for bucket stores (R2, S3): objects no record names, left by a crash or a
 * failed write, removed once old enough. The filesystem's counterpart is
 * adapters/filesystem/leftovers.ts. Keys (core/storage-layout.ts):
 *   blobs/<alg>/<hex>[-<write-id>]  a leftover when no blob-index entry names it (a duplicate
 *                                   write whose delete failed, bytes written by a request that
 *                                   died before indexing them, an object whose entry the
 *                                   collector removed before the delete failed);
 *   blobs/chunked/<upload-id>       the same, unless upload <upload-id> is still open;
 *   uploads/<upload-id>/tail-<n>    a leftover when upload <upload-id> is no longer open (a tail
 *                                   superseded by a request that died before deleting it, or one
 *                                   an expiry or a finish did not manage to delete).
 *
 * ## Why nothing in use goes
 *   The order is: list the objects (candidates: older than `olderThanMs`), then read the open
 *   uploads, then walk the blob index, and delete a candidate only if neither names it.
 *   - A blob's object is written, then indexed, within one request (a monolithic push), or an
 *     upload's multipart is completed, indexed, linked, and only then is its upload record
 *     deleted (core/uploads.ts). So an object listed as a candidate either still has its upload
 *     record when the uploads are read, or was indexed before the record went, and so before
 *     the index walk, which then names it. The age is for monolithic writes, which have no
 *     record: their object is indexed a moment after it is written, long before it is old
 *     enough (an hour at least). S3 dates an object assembled by a multipart upload from the
 *     upload's start, which is why the upload check, not the age, covers chunked objects.
 *   - A tail belongs to an open upload until the upload is finished, cancelled or expired,
 *     each of which removes the record after (or while) it deals with the tail.
 *   - An index entry removed by the collector during the walk leaves its object unnamed: it
 *     was garbage, and the collector deletes it too (deleting twice is not an error).
 */
import type { BlobStore, ListableObjects, ListedObject } from "../ports/blob-store.ts";
import type { ScannableMetadata } from "../ports/collectable.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";

export interface ObjectLeftoverOptions {
  metadata: MetadataStore & ScannableMetadata;
  blobs: BlobStore & ListableObjects;
  /** Objects younger than this are never taken: writes in progress. */
  olderThanMs: number;
  dryRun?: boolean;
  now?: () => number;
}

export interface ObjectLeftoverReport {
  files: number;
  bytes: number;
  problems: string[];
}

/** Leftovers are objects no record names; one untouched this long is no write in progress (the filesystem sweep's age too). */
export const LEFTOVER_MIN_AGE_MS = 60 * 60 * 1000;

/** Open uploads read at once; a registry with more keeps the rest's objects until a later run. */
const MAX_OPEN_UPLOADS = 100_000;
const INDEX_PAGE = 500;

export async function sweepObjectLeftovers(options: ObjectLeftoverOptions): Promise<ObjectLeftoverReport> {
  const { metadata, blobs } = options;
  const report: ObjectLeftoverReport = { files: 0, bytes: 0, problems: [] };
  const before = (options.now ?? Date.now)() - options.olderThanMs;
  const candidates: ListedObject[] = [];
  for (const prefix of ["blobs/", "uploads/"]) {
    for await (const page of blobs.listObjects(prefix)) candidates.push(...page.filter((object) => object.lastModified < before));
  }
  if (candidates.length === 0) return report;

  const open = await metadata.listStaleUploads(Number.MAX_SAFE_INTEGER, MAX_OPEN_UPLOADS);
  const openIds = new Set(open.map((upload) => upload.id));
  // Stores that answer at most MAX_OPEN_UPLOADS: with that many open, chunked objects and tails wait for a run with fewer.
  const uploadsKnown = open.length < MAX_OPEN_UPLOADS;
  const indexed = new Set<string>();
  for await (const page of metadata.blobIndexPages(INDEX_PAGE)) for (const entry of page) indexed.add(entry.key);

  for (const object of candidates) {
    const uploadId = uploadOf(object.key);
    if (indexed.has(object.key)) continue;
    if (uploadId !== null && (!uploadsKnown || openIds.has(uploadId))) continue;
    if (!options.dryRun) {
      try {
        await blobs.delete(object.key);
      } catch (error) {
        report.problems.push(`leftover ${object.key}: delete failed (${(error as Error).message}); the next run tries again`);
        continue;
      }
    }
    report.files++;
    report.bytes += object.size;
  }
  return report;
}

/** The upload an object belongs to: a chunked blob's or a tail's; null for a blob written whole. */
function uploadOf(key: string): string | null {
  const chunked = /^blobs\/chunked\/([^/]+)$/.exec(key);
  if (chunked) return chunked[1]!;
  const tail = /^uploads\/([^/]+)\//.exec(key);
  return tail ? tail[1]! : null;
}
