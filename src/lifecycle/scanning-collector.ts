/**
 * Online garbage collection for stores whose blob index and repositories live in different
 * partitions (Durable Objects: an object per repository, the index in shard objects;
 * DynamoDB: a partition per repository): no single step can check "nothing holds this
 * digest" and act on it, so a run scans, then acts with conditional writes.
 *
 * ## A run
 *   1. Visit every repository in the catalog: first record the references of its manifests
 *      stored before references were (read from their bytes, where the store offers them),
 *      then it removes its orphan links (links older than `orphanLinkAgeMs` no manifest of it
 *      uses; none while a manifest's references are unknown) and answers every digest it
 *      holds. Their union is `held`.
 *   2. Walk the blob index. An entry in `held` is left alone (a later write revives it if
 *      marked). An entry not in `held`:
 *        - unmarked: mark it with the time of marking (conditional: still unmarked);
 *        - marked at least `graceMs` before the run started: remove it on condition that
 *          its key and mark are unchanged, then delete its object.
 *
 * ## Why a referenced blob is never lost
 *   a. Every write that makes an entry held revives it first: linkBlob and putManifest
 *      clear the mark with a conditional write on the entry (refusing, and writing
 *      nothing, when it is gone) before they write the link or manifest; putBlobIfAbsent
 *      revives what it finds. Step 1 visits every repository that holds anything: on
 *      Durable Objects a repository is in the catalog before it holds anything, even
 *      with deletions racing pushes (DurableObjectMetadataStore.deleteRepository); on
 *      DynamoDB the store adds what a Scan finds (dynamodb/repository-deletion.ts).
 *   b. An entry removed in step 2 had its mark unchanged since at least `graceMs` before
 *      the run began: no revive touched it in that time. Its holders, had any appeared,
 *      would each have revived it (a) before writing themselves, so a holder written in
 *      that time is impossible, and one that revived before the mark wrote itself within
 *      one request's metadata steps of that revive: long before this run's scan, which
 *      started at least `graceMs` after the mark. So the scan saw every holder; none.
 *      This is where the grace period carries safety, unlike in the single-database
 *      collector: it must exceed the time between a request's revive and its link (a
 *      few metadata calls) by a wide margin; the minimum is 60 s, the default an hour.
 *   c. A writer revives after the removal: the revive fails, the write is refused and the
 *      push fails cleanly or stores its bytes afresh; new bytes are written under a key of
 *      their own (storage-layout.ts), so they never meet the object being deleted.
 *   d. The entry goes before its object: a crash between leaves an object nothing names,
 *      never an entry naming missing bytes.
 *
 * ## Empty repositories
 * A repository whose visit found nothing held is dropped from the catalog if the store finds it
 * holding nothing at all (removeRepositoryIfEmpty); a push racing the drop lists it again before
 * it writes (Durable Objects: registration; DynamoDB: a second read, and the Scan above).
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { ScannableMetadata } from "../ports/collectable.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";
import { type CollectionReport, deleteObject, emptyReport, readReferences } from "./collector.ts";
import { everyRepository } from "./catalog.ts";

export interface ScanningCollectorOptions {
  metadata: MetadataStore & ScannableMetadata;
  blobs: BlobStore;
  graceMs: number;
  orphanLinkAgeMs: number;
  now?: () => number;
  batchSize?: number;
  progress?: (report: CollectionReport) => void;
}

export class ScanningCollector {
  readonly #options: ScanningCollectorOptions;
  readonly #now: () => number;
  readonly #batch: number;

  constructor(options: ScanningCollectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#batch = options.batchSize ?? 200;
  }

  async run({ dryRun = false } = {}): Promise<CollectionReport> {
    const { metadata, blobs } = this.#options;
    const report = emptyReport(dryRun, this.#options.graceMs);
    const started = this.#now();
    const held = new Set<string>();
    for await (const name of metadata.repositoriesHoldingAnything?.() ?? everyRepository(metadata, this.#batch)) {
      if (!dryRun) await recordReferences(metadata, blobs, name, report, this.#batch);
      const scanned = await metadata.scanRepository(name, started - this.#options.orphanLinkAgeMs, dryRun);
      report.orphanLinksRemoved += scanned.orphanLinks;
      for (const digest of scanned.held) held.add(digest);
      // Nothing held (no link, no manifest): the store drops it from the catalog if it also has no tag or upload.
      if (!dryRun && scanned.held.length === 0 && (await metadata.removeRepositoryIfEmpty?.(name))) (report.repositoriesRemoved ??= []).push(name);
    }
    this.#options.progress?.(report);

    const sweepBefore = started - this.#options.graceMs;
    for await (const entries of metadata.blobIndexPages(this.#batch)) {
      for (const entry of entries) {
        if (held.has(entry.digest)) continue;
        if (dryRun) {
          // As the run would: an entry marked long enough ago goes; another is marked.
          if (entry.markedAt !== null && entry.markedAt <= sweepBefore) {
            report.blobsDeleted++;
            report.bytesFreed += entry.size;
          } else if (entry.markedAt === null) report.blobsMarked++;
        } else if (entry.markedAt === null) {
          // The time of the mark itself: another run overlapping this one must see a full grace period from now.
          if (await metadata.markBlob(entry.digest, entry.key, this.#now())) report.blobsMarked++;
        } else if (entry.markedAt <= sweepBefore && (await metadata.removeMarkedBlob({ ...entry, markedAt: entry.markedAt }))) {
          await deleteObject(blobs, entry, report);
        }
      }
      this.#options.progress?.(report);
    }
    return report;
  }
}

/**
 * Reads the references of the repository's manifests stored before they were recorded, from
 * their bytes, so the scan that follows no longer keeps every link of the repository for them.
 * Answers the store calls it made (the resumable collector's budget counts them).
 */
export async function recordReferences(metadata: ScannableMetadata, blobs: BlobStore, repository: string, report: CollectionReport, batchSize: number): Promise<number> {
  if (!metadata.unrecordedManifests || !metadata.recordReferences) return 0;
  const unreadable = new Set<string>();
  let calls = 0;
  for (;;) {
    const batch = (await metadata.unrecordedManifests(repository, batchSize + unreadable.size)).filter((record) => !unreadable.has(record.digest));
    calls++;
    for (const record of batch) {
      calls += 2;
      try {
        if (await metadata.recordReferences(repository, record.digest, await readReferences(blobs, record))) report.referencesRecorded++;
      } catch (error) {
        unreadable.add(record.digest);
        report.problems.push(`manifest ${record.digest} in ${repository}: references not read (${(error as Error).message}); its repository's links are all kept`);
      }
    }
    if (batch.length < batchSize) return calls;
  }
}
