import type { DeletableRepositories, DeletedRepository, IndexedBlob, MarkedBlob, PullRecords, RetainableMetadata, ScannableMetadata, TagTime, RepositoryScan } from "../../ports/collectable.ts";
import { type BlobInfo, ImmutableTagError, type ManifestRecord, type ManifestReferences, type MetadataStore, type Page, type RepositorySummary, type UploadRecord } from "../../ports/metadata-store.ts";
import type { CollectionCycleStore, CycleState } from "../../ports/collection-cycle.ts";
import type { CatalogObject } from "./catalog-object.ts";
import type { IndexShardObject, OpenUpload } from "./index-shard-object.ts";
import type { RepositoryObject } from "./repository-object.ts";
import { INDEX_SHARD_COUNT, indexShardOf, objectNames } from "./shards.ts";

export interface DurableObjectNamespaces {
  repositories: DurableObjectNamespace<RepositoryObject>;
  indexShards: DurableObjectNamespace<IndexShardObject>;
  catalog: DurableObjectNamespace<CatalogObject>;
}

/**
 * The metadata port over Durable Objects: routes each call by RPC to the
 * object that owns the record (layout in core/storage-layout.ts,
 * "durable-object"). Everything about one repository lives in that
 * repository's object, so the port's atomic and conditional operations are
 * single calls there; only the blob index, the catalog and the open-upload
 * index are shared, and each of their writes is a single idempotent call.
 */
export class DurableObjectMetadataStore implements MetadataStore, ScannableMetadata, RetainableMetadata, DeletableRepositories, PullRecords {
  readonly #namespaces: DurableObjectNamespaces;

  constructor(namespaces: DurableObjectNamespaces) {
    this.#namespaces = namespaces;
  }

  async getBlob(digest: string): Promise<BlobInfo | null> {
    return this.#shard(digest).getBlob(digest);
  }

  async putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo> {
    return this.#shard(info.digest).putBlobIfAbsent(info);
  }

  async linkBlob(repository: string, info: BlobInfo): Promise<boolean> {
    // The index entry revived before the link exists (lifecycle/scanning-collector.ts), and the
    // link written only by a registered object (#whileRegistered).
    if (!(await this.#shard(info.digest).revive(info.digest, info.key))) return false;
    const object = this.#repository(repository);
    await this.#whileRegistered(repository, async () => ((await object.linkBlob(repository, info)) ? true : null));
    return true;
  }

  async getBlobLink(repository: string, digest: string): Promise<BlobInfo | null> {
    return this.#repository(repository).getBlobLink(repository, digest);
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    return this.#repository(repository).unlinkBlob(repository, digest);
  }

  /** The references are checked in the repository object's transaction: links and manifests live there. */
  async putManifest(repository: string, record: ManifestRecord, tags: string[], references?: ManifestReferences, fixedTags?: string[]): Promise<string[]> {
    if (!(await this.#shard(record.digest).revive(record.digest, record.key))) return [record.digest];
    const object = this.#repository(repository);
    const { missing, moved } = await this.#whileRegistered(repository, async () => {
      const put = await object.putManifest(repository, record, tags, references, fixedTags);
      return put.registered ? put : null;
    });
    if (moved.length > 0) throw new ImmutableTagError(moved);
    return missing;
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    return this.#repository(repository).getManifest(repository, digest);
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null> {
    return this.#repository(repository).getTaggedManifest(repository, tag);
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    return this.#repository(repository).listTags(repository, page);
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#repository(repository).deleteTag(repository, tag);
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.#repository(repository).deleteManifest(repository, digest);
  }

  async listReferrers(repository: string, subject: string): Promise<ManifestRecord[]> {
    return this.#repository(repository).listReferrers(repository, subject);
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return this.#repository(repository).isRegistered();
  }

  async listRepositories(page: Page): Promise<string[]> {
    return this.#catalog().list(page);
  }

  /**
   * One call to the repository's object (its kept figures), then the index shards for the few digests
   * it holds without recording their size (referenced but no longer linked, huge manifest records).
   */
  async repositorySummary(repository: string): Promise<RepositorySummary> {
    const { lastPushedAt, bytes, unsized } = await this.#repository(repository).summary(repository);
    let indexed = 0;
    for (let i = 0; i < unsized.length; i += 16) {
      const found = await Promise.all(unsized.slice(i, i + 16).map((digest) => this.getBlob(digest)));
      for (const blob of found) indexed += blob?.size ?? 0;
    }
    return { lastPushedAt, bytes: bytes + indexed, bytesFrom: "exact" };
  }

  /** Indexed before it exists, so a record is never missed by expiry; a stale index entry is dropped when found. */
  async createUpload(record: UploadRecord): Promise<void> {
    await this.#uploadShard(record.repository, record.id).addUpload({ repository: record.repository, id: record.id, createdAt: record.createdAt });
    // Not through #whileRegistered, as on the other stores an upload alone does not list its
    // repository: an upload holds no blob the collector could take (open uploads are found
    // through the index shards, and completing one links the blob, which registers).
    await this.#repository(record.repository).createUpload(record);
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord | null> {
    return this.#repository(repository).getUpload(repository, id);
  }

  async updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean> {
    return this.#repository(record.repository).updateUpload(record, expectedVersion);
  }

  async deleteUpload(repository: string, id: string): Promise<void> {
    await this.#repository(repository).deleteUpload(repository, id);
    await this.#uploadShard(repository, id).removeUpload(repository, id);
  }

  /** Asks every shard for its oldest, then reads the records from their repositories. */
  async listStaleUploads(createdBefore: number, limit: number): Promise<UploadRecord[]> {
    if (limit <= 0) return [];
    const shards = Array.from({ length: INDEX_SHARD_COUNT }, (_, shard) => this.#shardNumber(shard).listStaleUploads(createdBefore, limit));
    const oldest = (await Promise.all(shards)).flat().sort(byAge).slice(0, limit);
    const found = await Promise.all(
      oldest.map(async (upload) => {
        const record = await this.getUpload(upload.repository, upload.id);
        if (!record) await this.#uploadShard(upload.repository, upload.id).removeUpload(upload.repository, upload.id);
        return record;
      }),
    );
    return found.filter((record) => record !== null);
  }

  /**
   * Runs `write`, a call of the repository object that writes only if the object is registered
   * (answering null, having written nothing, if not). Unregistered: the catalog first (a fresh
   * token), then the object's registration, then the write again. So a repository object holds
   * no link or manifest without its registration (upload records aside: they hold no blob, see
   * createUpload), and has its registration only after the catalog listed it:
   * the garbage collector finds holders through the catalog (lifecycle/scanning-collector.ts).
   * A failure in between leaves an empty repository listed, never a holder unlisted.
   */
  async #whileRegistered<T>(repository: string, write: () => Promise<T | null>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const written = await write();
      if (written !== null) return written;
      if (attempt === REGISTRATION_ATTEMPTS) throw new Error(`repository ${repository} was deleted during each of ${REGISTRATION_ATTEMPTS} attempts to write to it`);
      const token = await this.#catalog().register(repository);
      await this.#repository(repository).markRegistered(token);
    }
  }

  /**
   * Every manifest, tag, link and upload of the repository, then its catalog entry. Why a push
   * racing the deletion never leaves a repository holding something the catalog does not list
   * (the collector would not see it, and would take the blobs it holds):
   *   a. The object holds links and manifests only while it has its registration (#whileRegistered: each
   *      write checks it in the same call, which a Durable Object runs alone), and gets its
   *      registration only after the catalog listed the name under the token it records.
   *   b. The deletion reads the name's token from the catalog, then removes every row and the
   *      registration in one transaction of the object, fencing that token (the object takes no
   *      token up to it from then on), then removes the catalog entry only if its token is still
   *      that one. A push writing after the object's step finds no registration, so it registers
   *      first, under a newer token, which either comes before the catalog step (the name stays)
   *      or after it (the name is listed again); either way it is listed before the push writes.
   *      A push that registered under the fenced token but had not marked the object yet is
   *      refused its mark and registers again. A push writing before the object's step has its
   *      rows deleted with the rest.
   *   c. Two pushes may register at once and mark the object in either order, a mark may even
   *      come after a deletion or drop removed the entry. So the catalog's tokens only grow, and
   *      the object takes a token only if it is newer than every one it has seen or fenced
   *      (RepositoryObject.markRegistered): a late, older mark is refused and its push registers
   *      again, so a registration the object takes is one the catalog still lists.
   *   d. A crash between the steps leaves an empty repository listed (the safe direction);
   *      deleting it again, or the collector's next drop of empty repositories
   *      (removeRepositoryIfEmpty), removes it.
   * Uploads' storage is freed by the caller (lifecycle/repositories.ts), their index entries here.
   */
  async deleteRepository(repository: string): Promise<DeletedRepository | null> {
    const token = await this.#catalog().tokenOf(repository);
    const { registered, ...deleted } = await this.#repository(repository).deleteRepository(repository, token ?? null);
    const unlisted = token !== undefined && (await this.#catalog().unregister(repository, token));
    if (!registered && !unlisted && deleted.manifests + deleted.tags + deleted.links + deleted.uploads.length === 0) return null;
    await Promise.all(deleted.uploads.map((upload) => this.#uploadShard(repository, upload.id).removeUpload(repository, upload.id)));
    return deleted;
  }

  /**
   * Drops a repository that holds nothing from the catalog (the garbage collector's clean-up).
   * The catalog's token for the name first; then, in one call of the repository object, its
   * registration goes if it holds nothing, and it will take no token up to that one; then the
   * catalog entry goes only if it is still under that token. A push writing afterwards, or one
   * that registered under that token and had not marked the object yet, registers again under
   * a newer token (argument c of deleteRepository), and so lists the name again before it
   * writes. Reading the token from the catalog, not the object, also clears an entry left by a
   * crash between the two steps of an earlier drop or deletion.
   */
  async removeRepositoryIfEmpty(repository: string): Promise<boolean> {
    const token = await this.#catalog().tokenOf(repository);
    if (token === undefined) return false;
    const { dropped } = await this.#repository(repository).dropIfEmpty(repository, token);
    return dropped && (await this.#catalog().unregister(repository, token));
  }

  async listTagTimes(repository: string): Promise<TagTime[]> {
    return this.#repository(repository).tagTimes(repository);
  }

  async listUntaggedManifests(repository: string, pushedBefore: number): Promise<Array<{ digest: string; pushedAt: number }>> {
    return this.#repository(repository).untaggedManifests(repository, pushedBefore);
  }

  async deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): Promise<boolean> {
    return this.#repository(repository).deleteTagIfUnchanged(repository, tag, digest, taggedAt);
  }

  async deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): Promise<boolean> {
    return this.#repository(repository).deleteUntaggedManifest(repository, digest, pushedAt);
  }

  async recordPull(repository: string, digest: string, at: number, unlessSince: number): Promise<boolean> {
    return this.#repository(repository).recordPull(repository, digest, at, unlessSince);
  }

  async listUnpulledManifests(repository: string, before: number): Promise<Array<{ digest: string; lastUsedAt: number }>> {
    return this.#repository(repository).unpulledManifests(repository, before);
  }

  async deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): Promise<boolean> {
    return this.#repository(repository).deleteUnpulledManifest(repository, digest, lastUsedAt);
  }

  async scanRepository(repository: string, linkedBefore: number, dryRun: boolean): Promise<RepositoryScan> {
    return this.#repository(repository).scanForCollection(repository, linkedBefore, dryRun);
  }

  async unrecordedManifests(repository: string, limit: number): Promise<ManifestRecord[]> {
    return this.#repository(repository).unrecordedManifests(repository, limit);
  }

  async recordReferences(repository: string, digest: string, references: ManifestReferences): Promise<boolean> {
    return this.#repository(repository).recordReferences(repository, digest, references);
  }

  /** Shard by shard, each in digest order. */
  async *blobIndexPages(pageSize: number): AsyncIterable<IndexedBlob[]> {
    for (let shard = 0; shard < INDEX_SHARD_COUNT; shard++) {
      let after = "";
      for (;;) {
        const page = await this.#shardNumber(shard).listIndex(after, pageSize);
        if (page.length > 0) yield page;
        if (page.length < pageSize) break;
        after = page[page.length - 1]!.digest;
      }
    }
  }

  /** The cursor is "<shard>:<last digest of the page before>". */
  async blobIndexPage(cursor: string | null, pageSize: number): Promise<{ entries: IndexedBlob[]; next: string | null }> {
    const separator = cursor?.indexOf(":") ?? -1;
    let shard = cursor === null ? 0 : Number(cursor.slice(0, separator));
    let after = cursor === null ? "" : cursor.slice(separator + 1);
    if (!Number.isInteger(shard) || shard < 0) throw new Error(`blob index cursor ${cursor} is not one this store gave`);
    // Empty shards are skipped within the call, so a page is empty only at the end.
    for (; shard < INDEX_SHARD_COUNT; shard++, after = "") {
      const entries = await this.#shardNumber(shard).listIndex(after, pageSize);
      if (entries.length === pageSize) return { entries, next: `${shard}:${entries[entries.length - 1]!.digest}` };
      if (entries.length > 0) return { entries, next: shard + 1 < INDEX_SHARD_COUNT ? `${shard + 1}:` : null };
    }
    return { entries: [], next: null };
  }

  /** The catalog object keeps the cycle of a collection spread over several cron runs. */
  collectionCycles(): CollectionCycleStore {
    const catalog = () => this.#catalog();
    return {
      beginOrResume: (fresh) => catalog().beginOrResumeCycle(fresh) as Promise<CycleState>,
      saveCycle: (state) => catalog().saveCycle(state),
      addHeld: (startedAt, digests) => catalog().addHeld(startedAt, digests),
      heldAmong: (startedAt, digests) => catalog().heldAmong(startedAt, digests) as Promise<string[] | null>,
      endCycle: (startedAt) => catalog().endCycle(startedAt),
      currentCycle: () => catalog().currentCycle() as Promise<CycleState | null>,
    };
  }

  async markBlob(digest: string, key: string, now: number): Promise<boolean> {
    return this.#shard(digest).markBlob(digest, key, now);
  }

  async removeMarkedBlob(blob: MarkedBlob): Promise<boolean> {
    return this.#shard(blob.digest).removeMarkedBlob(blob.digest, blob.key, blob.markedAt);
  }

  #repository(name: string): DurableObjectStub<RepositoryObject> {
    return this.#namespaces.repositories.getByName(objectNames.repository(name));
  }

  #shard(digest: string): DurableObjectStub<IndexShardObject> {
    return this.#shardNumber(indexShardOf(digest));
  }

  #uploadShard(repository: string, id: string): DurableObjectStub<IndexShardObject> {
    return this.#shardNumber(indexShardOf(`${repository}\n${id}`));
  }

  #shardNumber(shard: number): DurableObjectStub<IndexShardObject> {
    return this.#namespaces.indexShards.getByName(objectNames.indexShard(shard));
  }

  #catalog(): DurableObjectStub<CatalogObject> {
    return this.#namespaces.catalog.getByName(objectNames.catalog);
  }
}

/** Writes that find the repository deleted again right after registering it give up after this many rounds. */
const REGISTRATION_ATTEMPTS = 5;

function byAge(a: OpenUpload, b: OpenUpload): number {
  return a.createdAt - b.createdAt || (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
