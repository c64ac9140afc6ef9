/**
 * What garbage collection needs from a metadata store besides the MetadataStore
 * port (lifecycle/collector.ts runs the protocol over it). Implemented where the
 * store can answer "does anything hold this digest?" and act on the answer in one
 * atomic step: the SQLite store (one database). The others offer ScannableMetadata below.
 */
import type { BlobInfo, ManifestRecord, ManifestReferences, UploadRecord } from "./metadata-store.ts";

export interface LinkRef {
  repository: string;
  digest: string;
}

/** A blob-index entry marked by the collector at `markedAt`. */
export interface MarkedBlob extends BlobInfo {
  markedAt: number;
}

export interface CollectableMetadata extends DeletableRepositories {
  /** Manifests stored before references were recorded (imported data), in (repository, digest) order after `after`. */
  manifestsWithoutReferences(after: LinkRef | null, limit: number): Promise<Array<{ repository: string; record: ManifestRecord }>>;
  /** Records what a manifest references; false when the manifest is gone. */
  recordReferences(repository: string, digest: string, references: ManifestReferences): Promise<boolean>;

  /**
   * Links written before `linkedBefore` that no manifest of their repository references
   * (nor is stored under), in (repository, digest) order after `after`.
   */
  listOrphanLinks(linkedBefore: number, after: LinkRef | null, limit: number): Promise<Array<LinkRef & { size: number }>>;
  /** Removes the link only if it still is such an orphan; answers whether it did. */
  removeOrphanLink(link: LinkRef, linkedBefore: number): Promise<boolean>;

  /** Marks, at `now`, up to `limit` unmarked blob-index entries that nothing holds; answers how many. */
  markUnheldBlobs(now: number, limit: number): Promise<number>;
  /** Entries marked at or before `markedBefore` that nothing holds, in digest order after `afterDigest`. */
  listSweepableBlobs(markedBefore: number, afterDigest: string, limit: number): Promise<MarkedBlob[]>;
  /**
   * Removes the entry only if its key and mark are unchanged and nothing holds it; answers
   * whether it did. Its bytes are then the caller's to delete: no one can link it any more.
   */
  removeBlobEntry(blob: MarkedBlob): Promise<boolean>;
  /** A dry run: entries nothing holds, or nothing would once the orphan links before `linkedBefore` are gone. */
  listUnheldBlobs(linkedBefore: number, afterDigest: string, limit: number): Promise<IndexedBlob[]>;
  /** Drops catalog entries of repositories that hold nothing; answers their names. */
  removeEmptyRepositories(): Promise<string[]>;
}

/** What a repository deletion removed: counts, and the uploads whole (their storage is the caller's to free). */
export interface DeletedRepository {
  manifests: number;
  tags: number;
  links: number;
  uploads: UploadRecord[];
}

/** Whole-repository deletion (lifecycle/repositories.ts): every store says how it keeps the catalog right. */
export interface DeletableRepositories {
  /**
   * Deletes every manifest, tag, link and upload record of the repository and its catalog entry;
   * null when the repository is not there. A push racing the deletion either loses what it wrote
   * with the rest, or leaves the repository listed with what it wrote afterwards.
   */
  deleteRepository(repository: string): Promise<DeletedRepository | null>;
}

export function isCollectable(store: object): store is CollectableMetadata {
  return "markUnheldBlobs" in store && typeof (store as CollectableMetadata).markUnheldBlobs === "function";
}

/** A blob-index entry as a scan sees it. */
export interface IndexedBlob extends BlobInfo {
  markedAt: number | null;
}

/** What a repository holds, as garbage collection's visit finds it. */
export interface RepositoryScan {
  /** Orphan links removed (or, in a dry run, that would be). */
  orphanLinks: number;
  /** Every digest the repository still holds. */
  held: string[];
  /** Sizes of held digests the repository records itself (links, manifests); others are in the blob index. */
  sizes?: Record<string, number>;
}

/**
 * Garbage collection over stores whose blob index and repositories live in different
 * partitions (Durable Objects, DynamoDB): no single step can ask "does anything hold this
 * digest?", so the collector scans every repository for what it holds, then acts on the
 * index entries with conditional writes (lifecycle/scanning-collector.ts).
 */
export interface ScannableMetadata {
  /**
   * In one repository: removes (unless `dryRun`) the links written before `linkedBefore`
   * that none of its manifests uses, and answers how many and their bytes, and every digest
   * the repository still holds (links, manifests, what its manifests reference).
   */
  scanRepository(repository: string, linkedBefore: number, dryRun: boolean): Promise<RepositoryScan>;
  /** Every index entry once, in pages of about `pageSize`, in whatever order the store reads fastest. */
  blobIndexPages(pageSize: number): AsyncIterable<IndexedBlob[]>;
  /**
   * One page of the blob index from `cursor` (null: the start) and where the next begins (null: the
   * end); what a collection spread over several invocations walks (lifecycle/resumable-collector.ts).
   */
  blobIndexPage?(cursor: string | null, pageSize: number): Promise<{ entries: IndexedBlob[]; next: string | null }>;
  /** Marks the entry at `now` if it is unmarked and still at `key`; answers whether it did. */
  markBlob(digest: string, key: string, now: number): Promise<boolean>;
  /** Removes the entry if its key and mark are unchanged; answers whether it did. */
  removeMarkedBlob(blob: MarkedBlob): Promise<boolean>;
  /**
   * Drops the repository from the catalog if it holds nothing (no link, manifest, tag or upload),
   * so that a push racing the drop still ends listed before it writes; answers whether it went.
   * The scanning collectors call it for a repository whose visit found nothing held.
   */
  removeRepositoryIfEmpty?(repository: string): Promise<boolean>;
  /**
   * Every repository that may hold something, where the catalog alone cannot promise it (DynamoDB:
   * a push racing a repository deletion); absent, the collector visits the catalog.
   */
  repositoriesHoldingAnything?(): AsyncIterable<string>;
  /**
   * Up to `limit` manifests of the repository stored before references were recorded (while any
   * is, the repository keeps every link); absent where the store has none to offer.
   */
  unrecordedManifests?(repository: string, limit: number): Promise<ManifestRecord[]>;
  /** Records what a manifest references; false when the manifest is gone. */
  recordReferences?(repository: string, digest: string, references: ManifestReferences): Promise<boolean>;
}

export function isScannable(store: object): store is ScannableMetadata {
  return "scanRepository" in store && typeof (store as ScannableMetadata).scanRepository === "function";
}

export interface TagTime {
  tag: string;
  digest: string;
  /** When a push last set the tag (epoch ms; 0 when unknown, for data of earlier versions). */
  taggedAt: number;
}

/** What retention rules (lifecycle/retention.ts) need: push times, and deletes that hold only if nothing changed since they were planned. */
export interface RetainableMetadata {
  listTagTimes(repository: string): Promise<TagTime[]>;
  /** Untagged manifests nothing in the repository references (nor is their subject there), pushed before `pushedBefore`. */
  listUntaggedManifests(repository: string, pushedBefore: number): Promise<Array<{ digest: string; pushedAt: number }>>;
  /** Deletes the tag only if it still names `digest` and was not pushed since `taggedAt`. */
  deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): Promise<boolean>;
  /** Deletes the manifest only if it is still as listed: untagged, unreferenced, not pushed again. */
  deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): Promise<boolean>;
}

export function isRetainable(store: object): store is RetainableMetadata {
  return "listTagTimes" in store && typeof (store as RetainableMetadata).listTagTimes === "function";
}

/**
 * When the manifests of mirrored repositories were last pulled, for the mirror's
 * `unpulledAfterSeconds` (lifecycle/retention.ts). A manifest's "last use" is the later of
 * its last recorded pull and its last put (a cached manifest counts as pulled when cached);
 * 0 when neither is known (data of earlier versions), and such manifests are kept.
 */
export interface PullRecords {
  /**
   * Records a pull of the manifest at `at`, unless its last use is at or after `unlessSince`:
   * so the pull path writes at most once per interval per manifest. Answers whether it wrote
   * (false also when the manifest is not there).
   */
  recordPull(repository: string, digest: string, at: number, unlessSince: number): Promise<boolean>;
  /** Manifests of the repository whose last use is known and before `before`, in digest order. */
  listUnpulledManifests(repository: string, before: number): Promise<Array<{ digest: string; lastUsedAt: number }>>;
  /** Deletes the manifest and every tag naming it, only if its last use is still `lastUsedAt` (not pulled or put since). */
  deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): Promise<boolean>;
}

export function recordsPulls(store: object): store is PullRecords {
  return "recordPull" in store && typeof (store as PullRecords).recordPull === "function";
}
