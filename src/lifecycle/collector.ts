/**
 * Online garbage collection: reclaims the blob-store objects nothing holds any more,
 * while clients keep pushing and pulling. Runs over the ports (a MetadataStore that
 * is also CollectableMetadata, and a BlobStore); runtimes only schedule it.
 *
 * ## What holds what
 *   - The blob index has one entry per digest naming the object with its bytes: every
 *     blob, and every manifest's own bytes.
 *   - An entry is held by a link to its digest (any repository), by a manifest stored
 *     under its digest (any repository), or by a manifest that references it (its
 *     config, layers, or an index's child manifests; recorded at put time).
 *   - A link is held by a manifest of its repository that references or is its digest.
 *     A link nothing holds is an orphan once it is older than `orphanLinkAgeMs`: a push
 *     links its layers before it puts the manifest that uses them, so young links are
 *     pushes in progress. The age defaults to the upload TTL: a push slower than that
 *     loses its uploads to expiry anyway.
 *   - Manifests are kept (tags, untagged, referrers alike); deleting them is the
 *     client's DELETE (retention rules, when configured, are such deletes).
 *
 * ## A run
 *   1. Read the references of manifests stored before they were recorded (imported
 *      data). Until then their repository has no orphan links: its holders are unknown.
 *   2. Remove orphan links, each with one conditional delete (still an orphan, still old).
 *   3. Mark every unmarked entry nothing holds, with the time.
 *   4. Sweep every entry marked at least `graceMs` ago that nothing holds: remove the
 *      entry with one conditional delete (mark unchanged, still unheld), then delete its
 *      object from the blob store.
 *
 * ## Why a referenced blob is never lost
 *   a. Every write that makes an entry held goes through the entry first: linkBlob and
 *      putManifest revive it (clear its mark) and refuse, writing nothing, when it is
 *      gone; putBlobIfAbsent revives a marked entry it finds. On the SQLite store the
 *      revive and the write are one transaction, and step 4's conditional delete is one
 *      statement: they serialize. Either the sweep removes the entry first, and the link
 *      or put then fails cleanly (the push answers an error naming the cause, or, for an
 *      upload that still has its bytes, indexes them afresh), or the write comes first,
 *      and the delete's condition (unheld, mark unchanged) fails.
 *   b. After step 4 removes an entry, no one can link it (a), so its object is deleted
 *      with no one relying on it. The object's key belongs to that entry alone: new
 *      bytes are always written under a key of their own (storage-layout.ts,
 *      blobs/<alg>/<hex>-<write-id>; multipart blobs/chunked/<upload-id>), so a push
 *      writing the same digest again never writes where the sweep deletes.
 *   c. The entry goes before its object. A crash between the two leaves an object no
 *      entry names: a leftover, found by the leftover sweep (filesystem: leftovers.ts),
 *      never an entry naming missing bytes.
 *   d. A blob shared by repositories is held while any link or manifest holds it: it
 *      goes only when the last one does.
 *   e. The grace period is not what makes this safe (a and b are); it keeps the
 *      collector from taking what a push is about to use: bytes indexed a moment ago and
 *      not linked yet, a layer uploaded before its manifest. Such a push loses a race
 *      only by failing cleanly, and only when its step came more than the grace period
 *      after the mark, which no running request takes.
 *
 * Stores without CollectableMetadata (Durable Objects, DynamoDB: holders live in other
 * partitions than the index) are collected by lifecycle/scanning-collector.ts instead.
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { CollectableMetadata, LinkRef } from "../ports/collectable.ts";
import type { BlobInfo, ManifestRecord, ManifestReferences, MetadataStore } from "../ports/metadata-store.ts";
import { parseManifest, referencesOf } from "../core/manifest-document.ts";
import { readLimited } from "../core/streams.ts";

export interface CollectorOptions {
  metadata: MetadataStore & CollectableMetadata;
  blobs: BlobStore;
  /** How long an unheld entry stays marked before its bytes go. */
  graceMs: number;
  /** How old a link no manifest uses must be before it is removed. */
  orphanLinkAgeMs: number;
  now?: () => number;
  batchSize?: number;
  /** Called after every batch, for progress lines. */
  progress?: (report: CollectionReport) => void;
}

export interface CollectionReport {
  dryRun: boolean;
  /** Imported manifests whose references were read from their bytes. */
  referencesRecorded: number;
  orphanLinksRemoved: number;
  blobsMarked: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** The grace period the run used: with 0, what it marked it also removed. */
  graceMs?: number;
  /** Repositories dropped from the catalog because they hold nothing any more. */
  repositoriesRemoved?: string[];
  /** Problems that did not stop the run (an unreadable manifest, a failed object delete). */
  problems: string[];
}

const MAX_MANIFEST_READ = 64 * 1024 * 1024;

export function emptyReport(dryRun: boolean, graceMs: number): CollectionReport {
  return { dryRun, graceMs, referencesRecorded: 0, orphanLinksRemoved: 0, blobsMarked: 0, blobsDeleted: 0, bytesFreed: 0, problems: [] };
}

/** The last step for an entry already removed from the index: its object, counted, or the failure noted. */
export async function deleteObject(blobs: BlobStore, entry: BlobInfo, report: CollectionReport): Promise<void> {
  try {
    await blobs.delete(entry.key);
    report.blobsDeleted++;
    report.bytesFreed += entry.size;
  } catch (error) {
    report.problems.push(`blob ${entry.digest}: its index entry is gone but deleting ${entry.key} failed (${(error as Error).message}); the object is a leftover now`);
  }
}

/** What a stored manifest references, read from its bytes (for manifests stored before references were recorded). */
export async function readReferences(blobs: BlobStore, record: ManifestRecord): Promise<ManifestReferences> {
  const object = await blobs.get(record.key);
  if (!object) throw new Error(`its bytes are missing at ${record.key}`);
  const bytes = await readLimited(object.body, MAX_MANIFEST_READ, () => new Error("it is larger than any manifest"));
  return referencesOf(parseManifest(bytes, record.mediaType, "stored"));
}

export class Collector {
  readonly #options: CollectorOptions;
  readonly #now: () => number;
  readonly #batch: number;

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#batch = options.batchSize ?? 500;
  }

  /** One collection; with `dryRun`, only counts what would go (orphan links, and the entries and bytes they and unheld entries free). */
  async run({ dryRun = false } = {}): Promise<CollectionReport> {
    const report = emptyReport(dryRun, this.#options.graceMs);
    const now = this.#now();
    const linkedBefore = now - this.#options.orphanLinkAgeMs;
    if (!dryRun) await this.#recordReferences(report);
    await this.#orphanLinks(linkedBefore, dryRun, report);
    if (dryRun) {
      await this.#countUnheld(linkedBefore, now - this.#options.graceMs, report);
      return report;
    }
    await this.#mark(now, report);
    await this.#sweep(now - this.#options.graceMs, report);
    report.repositoriesRemoved = await this.#options.metadata.removeEmptyRepositories();
    return report;
  }

  async #recordReferences(report: CollectionReport): Promise<void> {
    const { metadata, blobs } = this.#options;
    let after: LinkRef | null = null;
    for (;;) {
      const batch = await metadata.manifestsWithoutReferences(after, this.#batch);
      for (const { repository, record } of batch) {
        after = { repository, digest: record.digest };
        try {
          if (await metadata.recordReferences(repository, record.digest, await readReferences(blobs, record))) report.referencesRecorded++;
        } catch (error) {
          // Left unrecorded: its repository keeps every link until the manifest is deleted or readable.
          report.problems.push(`manifest ${record.digest} in ${repository}: references not read (${(error as Error).message}); its repository's links are all kept`);
        }
      }
      this.#options.progress?.(report);
      if (batch.length < this.#batch) return;
    }
  }

  async #orphanLinks(linkedBefore: number, dryRun: boolean, report: CollectionReport): Promise<void> {
    const { metadata } = this.#options;
    let after: LinkRef | null = null;
    for (;;) {
      const batch = await metadata.listOrphanLinks(linkedBefore, after, this.#batch);
      for (const link of batch) {
        after = { repository: link.repository, digest: link.digest };
        if (dryRun || (await metadata.removeOrphanLink(link, linkedBefore))) report.orphanLinksRemoved++;
      }
      this.#options.progress?.(report);
      if (batch.length < this.#batch) return;
    }
  }

  async #mark(now: number, report: CollectionReport): Promise<void> {
    for (;;) {
      const marked = await this.#options.metadata.markUnheldBlobs(now, this.#batch);
      report.blobsMarked += marked;
      if (marked < this.#batch) return;
    }
  }

  async #sweep(markedBefore: number, report: CollectionReport): Promise<void> {
    const { metadata, blobs } = this.#options;
    let after = "";
    for (;;) {
      const batch = await metadata.listSweepableBlobs(markedBefore, after, this.#batch);
      for (const entry of batch) {
        after = entry.digest;
        if (await metadata.removeBlobEntry(entry)) await deleteObject(blobs, entry, report);
      }
      this.#options.progress?.(report);
      if (batch.length < this.#batch) return;
    }
  }

  /** As the run would: an entry marked long enough ago (or any, with no grace period) goes; another is marked. */
  async #countUnheld(linkedBefore: number, markedBefore: number, report: CollectionReport): Promise<void> {
    let after = "";
    for (;;) {
      const batch = await this.#options.metadata.listUnheldBlobs(linkedBefore, after, this.#batch);
      for (const entry of batch) {
        after = entry.digest;
        if (this.#options.graceMs === 0 || (entry.markedAt !== null && entry.markedAt <= markedBefore)) {
          report.blobsDeleted++;
          report.bytesFreed += entry.size;
        } else report.blobsMarked++;
      }
      if (batch.length < this.#batch) return;
    }
  }
}
