import type { CollectableMetadata, IndexedBlob, LinkRef, MarkedBlob, PullRecords, RetainableMetadata, ScannableMetadata, TagTime, RepositoryScan } from "../../ports/collectable.ts";
import { type BlobInfo, ImmutableTagError, type ManifestRecord, type ManifestReferences, type MetadataStore, type Page, type RepositorySummary, type UploadRecord } from "../../ports/metadata-store.ts";
import { CollectorRecords } from "../sql/collector-records.ts";
import type { SqlDriver } from "../sql/driver.ts";
import { BlobIndexRecords, CatalogRecords, RepositoryRecords } from "../sql/records.ts";
import { ensureRepositoryFigures } from "../sql/repository-figures.ts";
import { addColumnIfMissing, BLOB_INDEX_TABLES, CATALOG_TABLES, REPOSITORY_TABLES } from "../sql/schema.ts";

/**
 * The metadata port on one SQLite database (layout in core/storage-layout.ts,
 * "sql"): every table in one file, so linking or putting a manifest and
 * registering the repository in the catalog are one transaction, and several
 * processes on one DATA_DIR see one consistent store.
 */
export class SqliteMetadataStore implements MetadataStore, CollectableMetadata, RetainableMetadata, ScannableMetadata, PullRecords {
  readonly #db: SqlDriver;
  readonly #repositories: RepositoryRecords;
  readonly #blobs: BlobIndexRecords;
  readonly #catalog: CatalogRecords;
  readonly #collector: CollectorRecords;

  constructor(db: SqlDriver, options: { now?: () => number } = {}) {
    this.#db = db;
    db.exec(REPOSITORY_TABLES + BLOB_INDEX_TABLES + CATALOG_TABLES);
    // Databases of versions before pull times were recorded (mirror retention).
    addColumnIfMissing(db, "manifests", "pulled_at", "INTEGER");
    ensureRepositoryFigures(db);
    this.#repositories = new RepositoryRecords(db, options.now);
    this.#blobs = new BlobIndexRecords(db);
    this.#catalog = new CatalogRecords(db);
    this.#collector = new CollectorRecords(db);
  }

  #progress<T>(body: () => T): T {
    return this.#db.progress ? this.#db.progress(body) : body();
  }

  async getBlob(digest: string): Promise<BlobInfo | null> {
    return this.#blobs.getBlob(digest);
  }

  async putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo> {
    return this.#blobs.putBlobIfAbsent(info);
  }

  async linkBlob(repository: string, info: BlobInfo): Promise<boolean> {
    return this.#db.transaction(() => {
      if (!this.#blobs.revive(info.digest, info.key)) return false;
      this.#repositories.linkBlob(repository, info);
      this.#catalog.register(repository);
      return true;
    });
  }

  async getBlobLink(repository: string, digest: string): Promise<BlobInfo | null> {
    return this.#repositories.getBlobLink(repository, digest);
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    return this.#repositories.unlinkBlob(repository, digest);
  }

  async putManifest(repository: string, record: ManifestRecord, tags: string[], references?: ManifestReferences, fixedTags?: string[]): Promise<string[]> {
    return this.#db.transaction(() => {
      if (!this.#blobs.revive(record.digest, record.key)) return [record.digest];
      const { missing, moved } = this.#repositories.putManifest(repository, record, tags, references, fixedTags);
      if (moved.length > 0) throw new ImmutableTagError(moved);
      // A failed reference check leaves the revived entry marked-free: harmless, the next run marks it again.
      if (missing.length === 0) this.#catalog.register(repository);
      return missing;
    });
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    return this.#repositories.getManifest(repository, digest);
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null> {
    return this.#repositories.getTaggedManifest(repository, tag);
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    return this.#repositories.listTags(repository, page);
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#repositories.deleteTag(repository, tag);
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.#repositories.deleteManifest(repository, digest);
  }

  async listReferrers(repository: string, subject: string): Promise<ManifestRecord[]> {
    return this.#repositories.listReferrers(repository, subject);
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return this.#catalog.has(repository);
  }

  async listRepositories(page: Page): Promise<string[]> {
    return this.#catalog.list(page);
  }

  /** The repository's kept figures, and the blob index (same database) for what it holds without a size. */
  async repositorySummary(repository: string): Promise<RepositorySummary> {
    // No transaction: a display figure, and BEGIN IMMEDIATE would hold the write lock for a read.
    const { lastPushedAt, bytes, unsized } = this.#repositories.summary(repository);
    const indexed = unsized.reduce((sum, digest) => sum + (this.#blobs.getBlob(digest)?.size ?? 0), 0);
    return { lastPushedAt, bytes: bytes + indexed, bytesFrom: "exact" };
  }

  async createUpload(record: UploadRecord): Promise<void> {
    // Upload progress: storage-layout.ts, "Durability".
    this.#progress(() => this.#repositories.createUpload(record));
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord | null> {
    return this.#repositories.getUpload(repository, id);
  }

  async updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean> {
    return this.#progress(() => this.#repositories.updateUpload(record, expectedVersion));
  }

  async deleteUpload(repository: string, id: string): Promise<void> {
    this.#repositories.deleteUpload(repository, id);
  }

  async listStaleUploads(createdBefore: number, limit: number): Promise<UploadRecord[]> {
    return this.#repositories.listStaleUploads(createdBefore, limit);
  }

  async manifestsWithoutReferences(after: LinkRef | null, limit: number): Promise<Array<{ repository: string; record: ManifestRecord }>> {
    return this.#repositories.manifestsWithoutReferences(after, limit);
  }

  async recordReferences(repository: string, digest: string, references: ManifestReferences): Promise<boolean> {
    return this.#repositories.recordReferences(repository, digest, references);
  }

  async listOrphanLinks(linkedBefore: number, after: LinkRef | null, limit: number): Promise<Array<LinkRef & { size: number }>> {
    return this.#collector.listOrphanLinks(linkedBefore, after, limit);
  }

  async removeOrphanLink(link: LinkRef, linkedBefore: number): Promise<boolean> {
    return this.#collector.removeOrphanLink(link, linkedBefore);
  }

  async markUnheldBlobs(now: number, limit: number): Promise<number> {
    return this.#collector.markUnheld(now, limit);
  }

  async listSweepableBlobs(markedBefore: number, afterDigest: string, limit: number): Promise<MarkedBlob[]> {
    return this.#collector.listSweepable(markedBefore, afterDigest, limit);
  }

  async removeBlobEntry(blob: MarkedBlob): Promise<boolean> {
    return this.#collector.removeEntry(blob);
  }

  async listUnheldBlobs(linkedBefore: number, afterDigest: string, limit: number): Promise<IndexedBlob[]> {
    return this.#collector.listUnheld(linkedBefore, afterDigest, limit);
  }

  /** What upload records point at in the blob store: the leftover sweep keeps these. */
  uploadStorage(): { multipartIds: Set<string>; tailKeys: Set<string> } {
    return this.#collector.uploadStorage();
  }

  keyIndexed(key: string): boolean {
    return this.#collector.keyIndexed(key);
  }

  async listTagTimes(repository: string): Promise<TagTime[]> {
    return this.#repositories.tagTimes(repository);
  }

  async listUntaggedManifests(repository: string, pushedBefore: number): Promise<Array<{ digest: string; pushedAt: number }>> {
    return this.#repositories.untaggedManifests(repository, pushedBefore);
  }

  async deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): Promise<boolean> {
    return this.#repositories.deleteTagIfUnchanged(repository, tag, digest, taggedAt);
  }

  async deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): Promise<boolean> {
    return this.#repositories.deleteUntaggedManifest(repository, digest, pushedAt);
  }

  async recordPull(repository: string, digest: string, at: number, unlessSince: number): Promise<boolean> {
    return this.#repositories.recordPull(repository, digest, at, unlessSince);
  }

  async listUnpulledManifests(repository: string, before: number): Promise<Array<{ digest: string; lastUsedAt: number }>> {
    return this.#repositories.unpulledManifests(repository, before);
  }

  async deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): Promise<boolean> {
    return this.#repositories.deleteUnpulledManifest(repository, digest, lastUsedAt);
  }

  // The scanning view (usage reports; the single-database collector above is what collects here).
  async scanRepository(repository: string, linkedBefore: number, dryRun: boolean): Promise<RepositoryScan> {
    return this.#repositories.scanForCollection(repository, linkedBefore, dryRun);
  }

  async *blobIndexPages(pageSize: number): AsyncIterable<IndexedBlob[]> {
    let after = "";
    for (;;) {
      const page = this.#blobs.listIndex(after, pageSize);
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.digest;
    }
  }

  async markBlob(digest: string, key: string, now: number): Promise<boolean> {
    return this.#blobs.mark(digest, key, now);
  }

  async removeMarkedBlob(blob: MarkedBlob): Promise<boolean> {
    return this.#blobs.removeMarked(blob.digest, blob.key, blob.markedAt);
  }

  /** Deletes every record of the repository and its catalog entry, in one transaction; null when it is not in the catalog. */
  async deleteRepository(repository: string): Promise<{ manifests: number; tags: number; links: number; uploads: UploadRecord[] } | null> {
    return this.#db.transaction(() => {
      if (!this.#catalog.unregister(repository)) return null;
      return this.#repositories.deleteRepository(repository);
    });
  }

  /** Uploads begun and neither finished, cancelled nor expired: the uploads-in-progress gauge. */
  countUploads(): number {
    return this.#db.all<{ n: number }>("SELECT count(*) AS n FROM uploads")[0]?.n ?? 0;
  }

  async namespaceBytes(namespace: string): Promise<number> {
    return this.#collector.namespaceBytes(namespace);
  }

  async namespaceHolds(namespace: string, digest: string): Promise<boolean> {
    return this.#collector.namespaceHolds(namespace, digest);
  }

  async removeEmptyRepositories(): Promise<string[]> {
    return this.#collector.removeEmptyRepositories();
  }

  async removeRepositoryIfEmpty(repository: string): Promise<boolean> {
    return this.#collector.removeRepositoryIfEmpty(repository);
  }
}
