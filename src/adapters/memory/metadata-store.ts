import { type BlobInfo, ImmutableTagError, type ManifestRecord, type ManifestReferences, type MetadataStore, type Page, type RepositorySummary, type UploadRecord } from "../../ports/metadata-store.ts";
import { byCodePoint, pageOfNames } from "../paging.ts";
import type { IndexedBlob, MarkedBlob, PullRecords, ScannableMetadata } from "../../ports/collectable.ts";

interface Repository {
  /** Set by linkBlob and putManifest; only registered repositories are in the catalog. */
  registered: boolean;
  links: Map<string, BlobInfo>;
  manifests: Map<string, ManifestRecord>;
  /** tag → manifest digest */
  tags: Map<string, string>;
  /** subject digest → digests of the manifests that refer to it */
  referrers: Map<string, Set<string>>;
  uploads: Map<string, UploadRecord>;
  /** digest → when its link was last written (orphan links are collected by age). */
  linkedAt: Map<string, number>;
  /** manifest digest → what it references (garbage collection follows these). */
  references: Map<string, Set<string>>;
  /** manifest digest → its last use: last put or recorded pull (PullRecords). */
  lastUse: Map<string, number>;
  /** When a manifest was last put (epoch ms); null before any. */
  lastPushedAt: number | null;
}

/** A blob-index entry with its collection mark (null: live). */
type IndexEntry = BlobInfo & { markedAt: number | null };

/**
 * Metadata held in one process's memory. Every method runs without awaiting
 * in between, so each is atomic. Records are copied in and out, so a caller
 * changing an object it passed or got back cannot change the store.
 */
export class MemoryMetadataStore implements MetadataStore, ScannableMetadata, PullRecords {
  readonly #blobs = new Map<string, IndexEntry>();
  readonly #repositories = new Map<string, Repository>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async getBlob(digest: string): Promise<BlobInfo | null> {
    const entry = this.#blobs.get(digest);
    return entry ? { digest: entry.digest, size: entry.size, key: entry.key } : null;
  }

  async putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo> {
    const stored = this.#blobs.get(info.digest);
    if (stored) {
      stored.markedAt = null;
      return { digest: stored.digest, size: stored.size, key: stored.key };
    }
    this.#blobs.set(info.digest, { ...copy(info), markedAt: null });
    return copy(info);
  }

  /** Clears a collection mark; false when the index has no entry for the digest at this key. */
  #revive(digest: string, key: string): boolean {
    const entry = this.#blobs.get(digest);
    if (entry?.key !== key) return false;
    entry.markedAt = null;
    return true;
  }

  async linkBlob(repository: string, info: BlobInfo): Promise<boolean> {
    if (!this.#revive(info.digest, info.key)) return false;
    const repo = this.#repository(repository);
    repo.links.set(info.digest, copy(info));
    repo.linkedAt.set(info.digest, this.#now());
    repo.registered = true;
    return true;
  }

  async getBlobLink(repository: string, digest: string): Promise<BlobInfo | null> {
    return copy(this.#repositories.get(repository)?.links.get(digest) ?? null);
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    return this.#repositories.get(repository)?.links.delete(digest) ?? false;
  }

  async putManifest(repository: string, record: ManifestRecord, tags: string[], references?: ManifestReferences, fixedTags: string[] = []): Promise<string[]> {
    if (this.#blobs.get(record.digest)?.key !== record.key) return [record.digest];
    this.#revive(record.digest, record.key);
    const existing = this.#repositories.get(repository);
    const moved = fixedTags.filter((tag) => (existing?.tags.get(tag) ?? record.digest) !== record.digest);
    if (moved.length > 0) throw new ImmutableTagError(moved);
    const missing = [
      ...[...new Set(references?.blobs ?? [])].filter((digest) => !existing?.links.has(digest)),
      ...[...new Set(references?.manifests ?? [])].filter((digest) => !existing?.manifests.has(digest)),
    ];
    if (missing.length > 0) return missing;
    const repo = this.#repository(repository);
    const previous = repo.manifests.get(record.digest);
    if (previous?.subject !== undefined) repo.referrers.get(previous.subject)?.delete(record.digest);
    repo.manifests.set(record.digest, copy(record));
    if (record.subject !== undefined) {
      const referrers = repo.referrers.get(record.subject) ?? new Set<string>();
      referrers.add(record.digest);
      repo.referrers.set(record.subject, referrers);
    }
    for (const tag of tags) repo.tags.set(tag, record.digest);
    repo.lastUse.set(record.digest, this.#now());
    repo.references.set(record.digest, new Set([...(references?.blobs ?? []), ...(references?.manifests ?? []), ...(references?.held ?? [])]));
    repo.lastPushedAt = this.#now();
    repo.registered = true;
    return [];
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    return copy(this.#repositories.get(repository)?.manifests.get(digest) ?? null);
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null> {
    const repo = this.#repositories.get(repository);
    const digest = repo?.tags.get(tag);
    return digest === undefined ? null : copy(repo?.manifests.get(digest) ?? null);
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    return pageOfNames(this.#repositories.get(repository)?.tags.keys() ?? [], page);
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#repositories.get(repository)?.tags.delete(tag) ?? false;
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const repo = this.#repositories.get(repository);
    const record = repo?.manifests.get(digest);
    if (!repo || !record) return false;
    for (const [tag, target] of repo.tags) if (target === digest) repo.tags.delete(tag);
    if (record.subject !== undefined) repo.referrers.get(record.subject)?.delete(digest);
    repo.manifests.delete(digest);
    repo.references.delete(digest);
    repo.lastUse.delete(digest);
    return true;
  }

  async recordPull(repository: string, digest: string, at: number, unlessSince: number): Promise<boolean> {
    const repo = this.#repositories.get(repository);
    const last = repo?.lastUse.get(digest);
    if (!repo || last === undefined || last >= unlessSince) return false;
    repo.lastUse.set(digest, Math.max(last, at));
    return true;
  }

  async listUnpulledManifests(repository: string, before: number): Promise<Array<{ digest: string; lastUsedAt: number }>> {
    const repo = this.#repositories.get(repository);
    return [...(repo?.lastUse ?? [])]
      .filter(([, at]) => at > 0 && at < before)
      .map(([digest, lastUsedAt]) => ({ digest, lastUsedAt }))
      .sort((a, b) => byCodePoint(a.digest, b.digest));
  }

  async deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): Promise<boolean> {
    if (this.#repositories.get(repository)?.lastUse.get(digest) !== lastUsedAt) return false;
    return this.deleteManifest(repository, digest);
  }

  async listReferrers(repository: string, subject: string): Promise<ManifestRecord[]> {
    const repo = this.#repositories.get(repository);
    const digests = [...(repo?.referrers.get(subject) ?? [])].sort(byCodePoint);
    return digests.flatMap((digest) => {
      const record = repo?.manifests.get(digest);
      return record ? [copy(record)] : [];
    });
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return this.#repositories.get(repository)?.registered ?? false;
  }

  async listRepositories(page: Page): Promise<string[]> {
    const names = [...this.#repositories].filter(([, repo]) => repo.registered).map(([name]) => name);
    return pageOfNames(names, page);
  }

  async removeRepositoryIfEmpty(repository: string): Promise<boolean> {
    const repo = this.#repositories.get(repository);
    if (!repo?.registered || repo.links.size + repo.manifests.size + repo.tags.size + repo.uploads.size > 0) return false;
    repo.registered = false;
    return true;
  }

  /** Every digest the repository holds once, sized by its own records or else the blob index (a digest in neither counts nothing). */
  async repositorySummary(repository: string): Promise<RepositorySummary> {
    const repo = this.#repositories.get(repository);
    if (!repo?.registered) return { lastPushedAt: null, bytes: 0, bytesFrom: "exact" };
    const held = new Set([...repo.links.keys(), ...repo.manifests.keys(), ...[...repo.references.values()].flatMap((set) => [...set])]);
    let bytes = 0;
    for (const digest of held) bytes += repo.links.get(digest)?.size ?? repo.manifests.get(digest)?.size ?? this.#blobs.get(digest)?.size ?? 0;
    return { lastPushedAt: repo.lastPushedAt, bytes, bytesFrom: "exact" };
  }

  async createUpload(record: UploadRecord): Promise<void> {
    this.#repository(record.repository).uploads.set(record.id, copy(record));
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord | null> {
    return copy(this.#repositories.get(repository)?.uploads.get(id) ?? null);
  }

  async updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean> {
    const uploads = this.#repositories.get(record.repository)?.uploads;
    if (uploads?.get(record.id)?.version !== expectedVersion) return false;
    uploads.set(record.id, copy(record));
    return true;
  }

  async deleteUpload(repository: string, id: string): Promise<void> {
    this.#repositories.get(repository)?.uploads.delete(id);
  }

  async listStaleUploads(createdBefore: number, limit: number): Promise<UploadRecord[]> {
    const stale = [...this.#repositories.values()]
      .flatMap((repo) => [...repo.uploads.values()])
      .filter((upload) => (upload.updatedAt ?? upload.createdAt) < createdBefore)
      .sort((a, b) => (a.updatedAt ?? a.createdAt) - (b.updatedAt ?? b.createdAt));
    return stale.slice(0, Math.max(0, limit)).map(copy);
  }

  // The scanning collector's view (lifecycle/scanning-collector.ts), so the collector's contract runs here too.
  async scanRepository(repository: string, linkedBefore: number, dryRun: boolean): Promise<{ orphanLinks: number; held: string[] }> {
    const repo = this.#repositories.get(repository);
    if (!repo) return { orphanLinks: 0, held: [] };
    const referenced = new Set([...repo.manifests.keys(), ...[...repo.references.values()].flatMap((set) => [...set])]);
    const orphans = [...repo.links.keys()].filter((digest) => !referenced.has(digest) && (repo.linkedAt.get(digest) ?? 0) < linkedBefore);
    if (!dryRun) for (const digest of orphans) repo.links.delete(digest);
    const held = new Set([...referenced, ...[...repo.links.keys()].filter((digest) => !orphans.includes(digest))]);
    return { orphanLinks: orphans.length, held: [...held] };
  }

  async *blobIndexPages(pageSize: number): AsyncIterable<IndexedBlob[]> {
    const entries = [...this.#blobs.values()].map((entry) => ({ ...entry }));
    for (let i = 0; i < entries.length; i += pageSize) yield entries.slice(i, i + pageSize);
  }

  async markBlob(digest: string, key: string, now: number): Promise<boolean> {
    const entry = this.#blobs.get(digest);
    if (entry?.key !== key || entry.markedAt !== null) return false;
    entry.markedAt = now;
    return true;
  }

  async removeMarkedBlob(blob: MarkedBlob): Promise<boolean> {
    const entry = this.#blobs.get(blob.digest);
    if (entry?.key !== blob.key || entry.markedAt !== blob.markedAt) return false;
    return this.#blobs.delete(blob.digest);
  }

  #repository(name: string): Repository {
    let repo = this.#repositories.get(name);
    if (!repo) {
      repo = {
        registered: false,
        links: new Map(),
        manifests: new Map(),
        tags: new Map(),
        lastUse: new Map(),
        referrers: new Map(),
        uploads: new Map(),
        linkedAt: new Map(),
        references: new Map(),
        lastPushedAt: null,
      };
      this.#repositories.set(name, repo);
    }
    return repo;
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}
