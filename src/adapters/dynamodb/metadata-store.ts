import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type BlobInfo, ImmutableTagError, type ManifestRecord, type ManifestReferences, type MetadataStore, type Page, type RepositorySummary, type UploadRecord } from "../../ports/metadata-store.ts";
import { byCodePoint } from "../paging.ts";
import { blobAttributes, blobFromItem, text, uploadAttributes, uploadFromItem } from "./items.ts";
import { decodeManifest } from "./manifest-items.ts";
import { CATALOG_PK, keys, ranges, UPLOAD_INDEX, type Key } from "./keys.ts";
import { deleteManifest, putManifest, referencesAttribute, referencesOf } from "./manifest-writes.ts";
import type { DeletableRepositories, DeletedRepository, IndexedBlob, MarkedBlob, PullRecords, RetainableMetadata, ScannableMetadata, TagTime, RepositoryScan } from "../../ports/collectable.ts";
import { deleteRepository, removeRepositoryIfEmpty, repositoriesHoldingAnything } from "./repository-deletion.ts";
import { countBytes, countVersion, readFigures, recountBytes, register } from "./repository-figures.ts";
import { TABLE_SCHEMA } from "./table.ts";
import { type Condition, TableAccess } from "./table-access.ts";

export interface DynamoDbMetadataStoreOptions {
  client: DynamoDBClient;
  table: string;
}

/**
 * Metadata in one DynamoDB table (layout: core/storage-layout.ts § dynamodb).
 * Reads are strongly consistent; single-item changes are conditional writes;
 * the multi-item changes (putManifest, deleteManifest) are ordered so that no
 * transaction is needed (manifest-writes.ts).
 */
export class DynamoDbMetadataStore implements MetadataStore, ScannableMetadata, RetainableMetadata, DeletableRepositories, PullRecords {
  readonly #table: TableAccess;

  constructor(options: DynamoDbMetadataStoreOptions) {
    this.#table = new TableAccess(options.client, options.table);
  }

  async getBlob(digest: string): Promise<BlobInfo | null> {
    const item = await this.#table.get(keys.blob(digest));
    return item && blobFromItem(item);
  }

  async putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo> {
    const written = await this.#table.put({ ...keys.blob(info.digest), ...blobAttributes(info) }, { expression: "attribute_not_exists(pk)" });
    if (written) return { ...info };
    const stored = await this.getBlob(info.digest);
    if (!stored) throw new Error(`blob index entry for ${info.digest} vanished between a failed conditional write and a read`);
    return stored;
  }

  /** Revives the index entry (a conditional update) before the link is written: see lifecycle/collector.ts. */
  async linkBlob(repository: string, info: BlobInfo): Promise<boolean> {
    // In the catalog before it holds anything: the collector finds holders through the catalog.
    await this.#register(repository);
    if (!(await this.#revive(info.digest, info.key))) return false;
    const replaced = await this.#table.replace({ ...keys.link(repository, info.digest), ...blobAttributes(info), linkedAt: { N: String(Date.now()) } });
    if (!replaced) await countBytes(this.#table, repository, info.size);
    return true;
  }

  /** Clears a collection mark on the entry for `digest` at `key`; false when there is no such entry. */
  async #revive(digest: string, key: string): Promise<boolean> {
    const after = await this.#table.update(
      keys.blob(digest),
      { expression: "REMOVE markedAt" },
      { expression: "attribute_exists(pk) AND #key = :key", names: { "#key": "key" }, values: { ":key": { S: key } } },
    );
    return after !== null;
  }
  async getBlobLink(repository: string, digest: string): Promise<BlobInfo | null> {
    const item = await this.#table.get(keys.link(repository, digest));
    return item && blobFromItem(item);
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const { old } = await this.#table.delete(keys.link(repository, digest));
    if (old) await countBytes(this.#table, repository, -Number(old.size?.N ?? 0));
    return old !== null;
  }

  /**
   * DynamoDB's transactions take at most 100 items and dynalite has none, so
   * the reference check is a batched strongly consistent read before the
   * write, not inside it: a blob unlinked between the two can leave this
   * manifest naming a blob its repository no longer links (storage-layout.ts).
   */
  async putManifest(repository: string, record: ManifestRecord, tags: string[], references?: ManifestReferences, fixedTags: string[] = []): Promise<string[]> {
    if (!(await this.#revive(record.digest, record.key))) return [record.digest];
    // Checked here first, so a refused push writes nothing; two pushes racing for a new immutable
    // tag can both pass this read, and the conditional tag write in putManifest refuses the second.
    const moved: string[] = [];
    for (const tag of fixedTags) {
      const current = await this.#table.get(keys.tag(repository, tag));
      if (current && text(current, "digest") !== record.digest) moved.push(tag);
    }
    if (moved.length > 0) throw new ImmutableTagError(moved);
    await this.#register(repository);
    const missing = await this.#missingReferences(repository, references);
    if (missing.length > 0) return missing;
    await putManifest(this.#table, repository, record, tags, references ?? { blobs: [], manifests: [] }, fixedTags);
    return [];
  }

  async listTagTimes(repository: string): Promise<TagTime[]> {
    const items = await this.#table.query({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": { S: ranges.repositoryPk(repository) }, ":prefix": { S: ranges.tags.prefix } },
      ConsistentRead: true,
    });
    return items.map((item) => ({ tag: text(item, "sk").slice(ranges.tags.prefix.length), digest: text(item, "digest"), taggedAt: Number(item.taggedAt?.N ?? 0) }));
  }

  /**
   * Manifest items of the repository no tag names, no manifest of it references, and whose
   * subject is not there, pushed before `pushedBefore` (the item's own write time).
   */
  async listUntaggedManifests(repository: string, pushedBefore: number): Promise<Array<{ digest: string; pushedAt: number }>> {
    const pk = { S: ranges.repositoryPk(repository) };
    const all = await this.#table.query({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": pk }, ConsistentRead: true });
    const manifests = all.filter((item) => /^manifest#[^#]+$/.test(text(item, "sk")));
    // References unknown (written by an earlier version, or too many to record): an index may hold any of them.
    if (manifests.some((item) => referencesOf(item) === null)) return [];
    const tagged = new Set(all.filter((item) => text(item, "sk").startsWith(ranges.tags.prefix)).map((item) => text(item, "digest")));
    const present = new Set(manifests.map((item) => text(item, "sk").slice("manifest#".length)));
    const referenced = new Set(manifests.flatMap((item) => referencesOf(item) ?? []));
    return manifests
      .map((item) => ({ digest: text(item, "sk").slice("manifest#".length), pushedAt: Number(item.pushedAt?.N ?? 0), subject: item.subject?.S }))
      .filter((m) => m.pushedAt > 0 && m.pushedAt < pushedBefore && !tagged.has(m.digest) && !referenced.has(m.digest) && !(m.subject && present.has(m.subject)))
      .map(({ digest, pushedAt }) => ({ digest, pushedAt }));
  }

  async deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): Promise<boolean> {
    const condition: Condition = taggedAt === 0
      ? { expression: "digest = :digest AND attribute_not_exists(taggedAt)", values: { ":digest": { S: digest } } }
      : { expression: "digest = :digest AND taggedAt = :at", values: { ":digest": { S: digest }, ":at": { N: String(taggedAt) } } };
    return (await this.#table.delete(keys.tag(repository, tag), condition)).deleted;
  }

  /** Read again just before the delete (no transactions): a tag written in between can still lose its manifest, as with any racing DELETE. */
  async deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): Promise<boolean> {
    const still = await this.listUntaggedManifests(repository, Number.MAX_SAFE_INTEGER);
    if (!still.some((m) => m.digest === digest && m.pushedAt === pushedAt)) return false;
    return deleteManifest(this.#table, repository, digest);
  }

  /** Sets `pulledAt` on the manifest item, conditional on its last use (pushedAt, pulledAt) being before `unlessSince`. */
  async recordPull(repository: string, digest: string, at: number, unlessSince: number): Promise<boolean> {
    const since = { ":since": { N: String(unlessSince) } };
    const after = await this.#table.update(
      keys.manifest(repository, digest),
      { expression: "SET pulledAt = :at", values: { ":at": { N: String(at) } } },
      { expression: "attribute_exists(pk) AND (attribute_not_exists(pushedAt) OR pushedAt < :since) AND (attribute_not_exists(pulledAt) OR pulledAt < :since)", values: since },
    );
    return after !== null;
  }

  async listUnpulledManifests(repository: string, before: number): Promise<Array<{ digest: string; lastUsedAt: number }>> {
    const items = await this.#table.query({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": { S: ranges.repositoryPk(repository) }, ":prefix": { S: "manifest#" } },
      ConsistentRead: true,
    });
    return items
      .filter((item) => /^manifest#[^#]+$/.test(text(item, "sk")))
      .map((item) => ({ digest: text(item, "sk").slice("manifest#".length), lastUsedAt: lastUse(item) }))
      .filter((m) => m.lastUsedAt > 0 && m.lastUsedAt < before)
      .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  /** Read again just before the delete (no transactions): a pull in between can still lose its manifest, which the next pull fetches again. */
  async deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): Promise<boolean> {
    const item = await this.#table.get(keys.manifest(repository, digest));
    if (!item || lastUse(item) !== lastUsedAt) return false;
    return deleteManifest(this.#table, repository, digest);
  }

  /** Garbage collection's visit of one repository (lifecycle/scanning-collector.ts). */
  async scanRepository(repository: string, linkedBefore: number, dryRun: boolean): Promise<RepositoryScan> {
    const pk = { S: ranges.repositoryPk(repository) };
    // Read before the Query: the recount below holds only if no count lands after this (repository-figures.ts).
    const version = dryRun ? null : countVersion(await this.#table.get(keys.catalogEntry(repository)));
    let counted = 0;
    const items = async (prefix: string) =>
      this.#table.query({ KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)", ExpressionAttributeValues: { ":pk": pk, ":prefix": { S: prefix } }, ConsistentRead: true });
    // Manifest items, not their record chunks (manifest#<digest>#<putId>#<n>).
    const manifests = (await items("manifest#")).filter((item) => !text(item, "sk").slice("manifest#".length).includes("#"));
    const held = new Set<string>();
    const sizes: Record<string, number> = {};
    let unknown = false;
    for (const item of manifests) {
      const digest = text(item, "sk").slice("manifest#".length);
      held.add(digest);
      // An inline record has its size at hand (a chunked one's is left to the blob index).
      if (item.record?.S !== undefined) sizes[digest] = (JSON.parse(item.record.S) as ManifestRecord).size;
      const refs = referencesOf(item);
      if (refs === null) unknown = true;
      else for (const digest of refs) held.add(digest);
    }
    let orphanLinks = 0;
    for (const link of await items("link#")) {
      const digest = text(link, "digest");
      const linkedAt = Number(link.linkedAt?.N ?? 0);
      if (unknown || held.has(digest) || linkedAt >= linkedBefore) {
        held.add(digest);
        sizes[digest] = Number(link.size?.N);
        continue;
      }
      orphanLinks++;
      if (dryRun) continue;
      // Only if it was not written again since the scan read it.
      const unchanged = link.linkedAt
        ? { expression: "linkedAt = :at", values: { ":at": link.linkedAt } }
        : { expression: "attribute_not_exists(linkedAt)" };
      if (!(await this.#table.delete(keys.link(repository, digest), unchanged)).deleted) {
        held.add(digest);
        sizes[digest] = Number(link.size?.N);
        continue;
      }
      await countBytes(this.#table, repository, -Number(link.size?.N ?? 0));
      counted++;
    }
    if (version !== null) {
      let bytes = 0;
      for (const digest of held) bytes += sizes[digest] ?? (await this.getBlob(digest))?.size ?? 0;
      await recountBytes(this.#table, repository, bytes, version + counted);
    }
    return { orphanLinks, held: [...held], sizes };
  }

  /**
   * Manifests stored before references were recorded (earlier versions): the collector reads
   * their references from their bytes (lifecycle/scanning-collector.ts recordReferences). Those
   * whose references were found too many to store are left out (they stay unknown, and keep
   * every link of their repository, as they would have at their push).
   */
  async unrecordedManifests(repository: string, limit: number): Promise<ManifestRecord[]> {
    const items = await this.#table.query({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      FilterExpression: "attribute_not_exists(refs) AND attribute_not_exists(refsTooMany) AND attribute_not_exists(deleting)",
      ExpressionAttributeValues: { ":pk": { S: ranges.repositoryPk(repository) }, ":prefix": { S: "manifest#" } },
      ConsistentRead: true,
    });
    const records: ManifestRecord[] = [];
    for (const item of items) {
      if (text(item, "sk").slice("manifest#".length).includes("#")) continue; // a record chunk
      if (records.length >= limit) break;
      const record = await decodeManifest(this.#table, item);
      if (record) records.push(record);
    }
    return records;
  }

  /**
   * Stores the references on the manifest item, if it is still there (a put of the same digest
   * meanwhile has the same bytes, hence the same references). Too many to store: the item is
   * noted so, and keeps its references unknown.
   */
  async recordReferences(repository: string, digest: string, references: ManifestReferences): Promise<boolean> {
    const refs = referencesAttribute(references);
    const update: Condition = refs.refs ? { expression: "SET refs = :refs", values: { ":refs": refs.refs } } : { expression: "SET refsTooMany = :yes", values: { ":yes": { BOOL: true } } };
    const updated = await this.#table.update(keys.manifest(repository, digest), update, { expression: "attribute_exists(pk) AND attribute_not_exists(deleting)" });
    return updated !== null && refs.refs !== undefined;
  }

  /** Blob items found by a scan of the table (unordered, a page of DynamoDB's at a time). */
  async *blobIndexPages(): AsyncIterable<IndexedBlob[]> {
    for await (const page of this.#table.scanPages({ FilterExpression: "begins_with(pk, :blob)", ExpressionAttributeValues: { ":blob": { S: "blob#" } } })) {
      yield page.map((item) => ({ ...blobFromItem(item), markedAt: item.markedAt?.N === undefined ? null : Number(item.markedAt.N) }));
    }
  }

  async markBlob(digest: string, key: string, now: number): Promise<boolean> {
    const condition = { expression: "#key = :key AND attribute_not_exists(markedAt)", names: { "#key": "key" }, values: { ":key": { S: key } } };
    return (await this.#table.update(keys.blob(digest), { expression: "SET markedAt = :now", values: { ":now": { N: String(now) } } }, condition)) !== null;
  }

  async removeMarkedBlob(blob: MarkedBlob): Promise<boolean> {
    const condition = { expression: "#key = :key AND markedAt = :at", names: { "#key": "key" }, values: { ":key": { S: blob.key }, ":at": { N: String(blob.markedAt) } } };
    return (await this.#table.delete(keys.blob(blob.digest), condition)).deleted;
  }

  /**
   * Blob links are checked by touching them (a conditional write of their linkedAt), not by
   * reading them: the collector removes an orphan link only if its linkedAt is what its scan
   * read, so a link this put relies on cannot be removed after the check (it was, before: a
   * scan that read the repository before the manifest existed). Manifests are read.
   */
  async #missingReferences(repository: string, references: ManifestReferences | undefined): Promise<string[]> {
    const blobs = [...new Set(references?.blobs ?? [])];
    const manifests = [...new Set(references?.manifests ?? [])];
    const missing: string[] = [];
    const now = { N: String(Date.now()) };
    for (let i = 0; i < blobs.length; i += 16) {
      await Promise.all(
        blobs.slice(i, i + 16).map(async (digest) => {
          const touched = await this.#table.update(keys.link(repository, digest), { expression: "SET linkedAt = :now", values: { ":now": now } }, { expression: "attribute_exists(pk)" });
          if (!touched) missing.push(digest);
        }),
      );
    }
    if (manifests.length > 0) {
      const found = new Set((await this.#table.getMany(manifests.map((d) => keys.manifest(repository, d)))).map((item) => item.sk?.S));
      missing.push(...manifests.filter((d) => !found.has(keys.manifest(repository, d).sk.S)));
    }
    return missing;
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    // A large record's chunks can be replaced by a put of the same digest between two reads: read again.
    for (let attempt = 1; ; attempt++) {
      const item = await this.#table.get(keys.manifest(repository, digest));
      if (!item) return null;
      const record = await decodeManifest(this.#table, item);
      if (record) return record;
      if (attempt === 3) throw new Error(`manifest ${digest} in ${repository}: its record chunks kept changing while being read`);
    }
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null> {
    const item = await this.#table.get(keys.tag(repository, tag));
    return item ? this.getManifest(repository, text(item, "digest")) : null;
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    const { prefix, end } = ranges.tags;
    const from = prefix + (page.after ?? "");
    return this.#sortKeysAfter(ranges.repositoryPk(repository), from, end, page, prefix.length);
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return (await this.#table.delete(keys.tag(repository, tag))).old !== null;
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return deleteManifest(this.#table, repository, digest);
  }

  async listReferrers(repository: string, subject: string): Promise<ManifestRecord[]> {
    const entries = await this.#table.query({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": { S: ranges.repositoryPk(repository) }, ":prefix": { S: ranges.referrerPrefix(subject) } },
      ProjectionExpression: "sk",
      ConsistentRead: true,
    });
    const digests = entries.map((item) => text(item, "sk").slice(ranges.referrerPrefix(subject).length));
    // An entry whose manifest is gone (a delete in progress) is not a referrer.
    const records = await Promise.all(digests.map((digest) => this.getManifest(repository, digest)));
    return records
      .filter((record): record is ManifestRecord => record?.subject === subject)
      .sort((a, b) => byCodePoint(a.digest, b.digest));
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await this.#table.get(keys.catalogEntry(repository))) !== null;
  }

  async listRepositories(page: Page): Promise<string[]> {
    return this.#sortKeysAfter(CATALOG_PK, page.after ?? "", undefined, page, 0);
  }

  /** One read of the catalog entry, which keeps the figures (repository-figures.ts). */
  async repositorySummary(repository: string): Promise<RepositorySummary> {
    return readFigures(this.#table, repository);
  }

  async createUpload(record: UploadRecord): Promise<void> {
    await this.#table.put(this.#uploadItem(record));
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord | null> {
    const item = await this.#table.get(keys.upload(repository, id));
    return item && uploadFromItem(item);
  }

  async updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean> {
    // The condition is what keeps two racing PATCHes from both winning.
    return this.#table.put(this.#uploadItem(record), { expression: "version = :expected", values: { ":expected": { N: String(expectedVersion) } } });
  }

  async deleteUpload(repository: string, id: string): Promise<void> {
    await this.#table.delete(keys.upload(repository, id));
  }

  /** Oldest first, through the sparse uploads-by-age index (eventually consistent, which expiry tolerates). */
  async listStaleUploads(createdBefore: number, limit: number): Promise<UploadRecord[]> {
    if (limit <= 0) return [];
    const { indexName, partitionKey, sortKey } = TABLE_SCHEMA.uploadsByAge;
    const found = await this.#table.query(
      {
        IndexName: indexName,
        KeyConditionExpression: "#index = :upload AND #createdAt < :before",
        ExpressionAttributeNames: { "#index": partitionKey, "#createdAt": sortKey },
        ExpressionAttributeValues: { ":upload": { S: UPLOAD_INDEX }, ":before": { N: String(createdBefore) } },
        Limit: limit,
      },
      limit,
    );
    const items = await this.#table.getMany(found.slice(0, limit).map((item): Key => ({ pk: item.pk!, sk: item.sk! })));
    return items.map(uploadFromItem).sort((a, b) => a.createdAt - b.createdAt);
  }

  #uploadItem(record: UploadRecord) {
    const { partitionKey, sortKey } = TABLE_SCHEMA.uploadsByAge;
    return {
      ...keys.upload(record.repository, record.id),
      ...uploadAttributes(record),
      [partitionKey]: { S: UPLOAD_INDEX },
      [sortKey]: { N: String(record.createdAt) },
    };
  }

  /**
   * The catalog entry, written before every link and manifest (idempotent, one small write): not
   * remembered, since a repository deletion removes it (repository-deletion.ts).
   */
  async #register(repository: string): Promise<void> {
    await register(this.#table, repository);
  }

  /** Every item of the repository, then its catalog entry (repository-deletion.ts). */
  async deleteRepository(repository: string): Promise<DeletedRepository | null> {
    return deleteRepository(this.#table, repository);
  }

  /** The catalog, and the repositories a Scan finds that it does not list (listed again): what the collector visits. */
  removeRepositoryIfEmpty(repository: string): Promise<boolean> {
    return removeRepositoryIfEmpty(this.#table, repository);
  }

  repositoriesHoldingAnything(): AsyncIterable<string> {
    return repositoriesHoldingAnything(this.#table, (page) => this.listRepositories(page));
  }

  /**
   * Sort keys of partition `pk` from `from` (exclusive) up to `end`, stripped
   * of `prefixLength` characters, at most `page.limit` of them. DynamoDB
   * orders string keys by their UTF-8 bytes, which is code-point order, the
   * order the spec's listings use.
   */
  async #sortKeysAfter(pk: string, from: string, end: string | undefined, page: Page, prefixLength: number): Promise<string[]> {
    if (page.limit === 0) return [];
    const items = await this.#table.query(
      {
        // Key condition values may not be empty strings: the first catalog page has no lower bound.
        KeyConditionExpression: end !== undefined ? "pk = :pk AND sk BETWEEN :from AND :end" : from ? "pk = :pk AND sk > :from" : "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: pk }, ...(from ? { ":from": { S: from } } : {}), ...(end === undefined ? {} : { ":end": { S: end } }) },
        ProjectionExpression: "sk",
        ConsistentRead: true,
        ...(page.limit === undefined ? {} : { Limit: page.limit + 1 }),
      },
      page.limit === undefined ? Infinity : page.limit + 1,
    );
    // BETWEEN includes its lower bound, which is the exclusive `after` itself.
    const names = items.map((item) => text(item, "sk")).filter((sk) => sk !== from).map((sk) => sk.slice(prefixLength));
    return page.limit === undefined ? names : names.slice(0, page.limit);
  }
}

/** A manifest item's last use: the later of its last recorded pull and its last put (0: unknown). */
function lastUse(item: Record<string, { N?: string }>): number {
  return Math.max(Number(item.pulledAt?.N ?? 0), Number(item.pushedAt?.N ?? 0));
}
