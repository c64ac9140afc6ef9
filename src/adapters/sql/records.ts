import type { BlobInfo, ManifestRecord, ManifestReferences, Page, UploadRecord } from "../../ports/metadata-store.ts";
import type { TagTime } from "../../ports/collectable.ts";
import { first, type SqlDriver } from "./driver.ts";
import { repositoryFigures } from "./repository-figures.ts";

/**
 * The metadata rules in SQL, once, for every SQLite the registry runs on: one
 * database file shared by the Node processes (adapters/sqlite), and a Durable
 * Object per repository, per index shard and for the catalog
 * (adapters/durable-object). Each method is one statement or one transaction
 * on a synchronous driver, so it is atomic; the Node store and the objects
 * add only what their partitioning needs (registration in the catalog, the
 * open-upload index of the shards).
 */
export class RepositoryRecords {
  readonly #db: SqlDriver;
  readonly #now: () => number;

  constructor(db: SqlDriver, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * `linked_at` is the link's latest write: a link no manifest uses is collected only once it is
   * older than the grace period. An upsert, not INSERT OR REPLACE, for the size triggers (repository-figures.ts).
   */
  linkBlob(repository: string, info: BlobInfo, linkedAt = this.#now()): void {
    this.#db.run(
      `INSERT INTO links (repository, digest, size, key, linked_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (repository, digest) DO UPDATE SET size = excluded.size, key = excluded.key, linked_at = excluded.linked_at`,
      repository,
      info.digest,
      info.size,
      info.key,
      linkedAt,
    );
  }

  getBlobLink(repository: string, digest: string): BlobInfo | null {
    return first(this.#db.all<BlobInfo>("SELECT digest, size, key FROM links WHERE repository = ? AND digest = ?", repository, digest));
  }

  unlinkBlob(repository: string, digest: string): boolean {
    return this.#db.run("DELETE FROM links WHERE repository = ? AND digest = ?", repository, digest);
  }

  /**
   * The references the manifest needs that `repository` does not have:
   * blobs it must link and manifests it must hold (an index's children).
   * Called inside the transaction that writes the manifest, so a blob
   * unlinked at the same moment either fails the put or is unlinked after it.
   */
  missingReferences(repository: string, references: ManifestReferences): string[] {
    const missing: string[] = [];
    for (const digest of new Set(references.blobs)) {
      if (this.#db.all("SELECT 1 FROM links WHERE repository = ? AND digest = ?", repository, digest).length === 0) missing.push(digest);
    }
    for (const digest of new Set(references.manifests)) {
      if (this.#db.all("SELECT 1 FROM manifests WHERE repository = ? AND digest = ?", repository, digest).length === 0) missing.push(digest);
    }
    return missing;
  }

  /**
   * Stores the record, its references and each tag, all or nothing; answers the missing
   * references, or the fixed (immutable) tags that name another digest, instead when there are any. `references: null` (an import of an earlier
   * version's record) stores the record with its references unknown, for garbage collection
   * to read from the manifest's bytes before it trusts this repository's links.
   */
  putManifest(
    repository: string,
    record: ManifestRecord,
    tags: string[],
    references: ManifestReferences | null = NO_REFERENCES,
    fixedTags: string[] = [],
  ): { missing: string[]; moved: string[] } {
    return this.#db.transaction(() => {
      const moved = fixedTags.filter((tag) =>
        this.#db.all("SELECT 1 FROM tags WHERE repository = ? AND tag = ? AND digest <> ?", repository, tag, record.digest).length > 0,
      );
      if (moved.length > 0) return { missing: [], moved };
      if (references) {
        const missing = this.missingReferences(repository, references);
        if (missing.length > 0) return { missing, moved };
      }
      const [head, ...overflow] = splitRecord(record);
      this.#db.run(
        `INSERT INTO manifests (repository, digest, subject, record, overflow_parts, pushed_at, refs_recorded) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (repository, digest) DO UPDATE SET subject = excluded.subject, record = excluded.record,
            overflow_parts = excluded.overflow_parts, pushed_at = excluded.pushed_at, refs_recorded = excluded.refs_recorded`,
        repository,
        record.digest,
        record.subject ?? null,
        head!,
        overflow.length,
        this.#now(),
        references ? 1 : 0,
      );
      if (references) this.#writeReferences(repository, record.digest, references);
      this.#db.run("DELETE FROM manifest_overflow WHERE repository = ? AND digest = ?", repository, record.digest);
      overflow.forEach((text, seq) =>
        this.#db.run("INSERT INTO manifest_overflow (repository, digest, seq, text) VALUES (?, ?, ?, ?)", repository, record.digest, seq, text),
      );
      const taggedAt = this.#now();
      for (const tag of tags) {
        this.#db.run("INSERT OR REPLACE INTO tags (repository, tag, digest, tagged_at) VALUES (?, ?, ?, ?)", repository, tag, record.digest, taggedAt);
      }
      return { missing: [], moved };
    });
  }

  getManifest(repository: string, digest: string): ManifestRecord | null {
    const row = first(this.#db.all<ManifestRow>("SELECT digest, record, overflow_parts FROM manifests WHERE repository = ? AND digest = ?", repository, digest));
    return row && this.#record(repository, row);
  }

  getTaggedManifest(repository: string, tag: string): ManifestRecord | null {
    const row = first(
      this.#db.all<ManifestRow>(
        "SELECT m.digest, m.record, m.overflow_parts FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = ? AND t.tag = ?",
        repository,
        tag,
      ),
    );
    return row && this.#record(repository, row);
  }

  /** BINARY collation compares UTF-8 bytes, which is code-point order, as the spec's listings want. */
  listTags(repository: string, page: Page): string[] {
    return this.#db
      .all<{ tag: string }>("SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?", repository, page.after ?? "", limitOf(page))
      .map((row) => row.tag);
  }

  deleteTag(repository: string, tag: string): boolean {
    return this.#db.run("DELETE FROM tags WHERE repository = ? AND tag = ?", repository, tag);
  }

  /** What garbage collection follows: the digests a manifest holds (its blobs and child manifests), replacing any recorded before. */
  recordReferences(repository: string, digest: string, references: ManifestReferences): boolean {
    return this.#db.transaction(() => {
      if (!this.#db.run("UPDATE manifests SET refs_recorded = 1 WHERE repository = ? AND digest = ?", repository, digest)) return false;
      this.#writeReferences(repository, digest, references);
      return true;
    });
  }

  /** Manifests stored with their references unknown (imported from an earlier version). */
  manifestsWithoutReferences(after: { repository: string; digest: string } | null, limit: number): Array<{ repository: string; record: ManifestRecord }> {
    return this.#db
      .all<ManifestRow & { repository: string }>(
        "SELECT repository, digest, record, overflow_parts FROM manifests WHERE refs_recorded = 0 AND (repository, digest) > (?, ?) ORDER BY repository, digest LIMIT ?",
        after?.repository ?? "",
        after?.digest ?? "",
        Math.max(0, limit),
      )
      .map((row) => ({ repository: row.repository, record: this.#record(row.repository, row) }));
  }

  /**
   * For a collector that cannot see the blob index in the same database (a Durable Object
   * per repository): removes this repository's orphan links written before `linkedBefore`
   * (none while a manifest's references are unknown), then answers what it holds.
   */
  scanForCollection(repository: string, linkedBefore: number, dryRun: boolean): { orphanLinks: number; held: string[]; sizes: Record<string, number> } {
    return this.#db.transaction(() => {
      const orphans = this.#db.all<{ digest: string }>(`SELECT digest FROM links WHERE repository = ? AND ${ORPHAN_LINK}`, repository, linkedBefore);
      if (!dryRun) for (const { digest } of orphans) this.#db.run("DELETE FROM links WHERE repository = ? AND digest = ?", repository, digest);
      const gone = new Set(orphans.map((row) => row.digest));
      const held = new Set<string>();
      for (const table of ["links", "manifests", "manifest_refs"]) {
        for (const { digest } of this.#db.all<{ digest: string }>(`SELECT DISTINCT digest FROM ${table} WHERE repository = ?`, repository)) {
          if (table !== "links" || !gone.has(digest)) held.add(digest);
        }
      }
      // Sizes the repository knows, so a quota check need not ask the blob index (another object) for each.
      const sizes: Record<string, number> = {};
      for (const { digest, size } of this.#db.all<{ digest: string; size: number }>("SELECT digest, size FROM links WHERE repository = ?", repository)) {
        if (held.has(digest)) sizes[digest] = size;
      }
      const manifestSizes = "SELECT digest, json_extract(record, '$.size') AS size FROM manifests WHERE repository = ? AND overflow_parts = 0";
      for (const { digest, size } of this.#db.all<{ digest: string; size: number | null }>(manifestSizes, repository)) {
        if (typeof size === "number") sizes[digest] = size;
      }
      return { orphanLinks: orphans.length, held: [...held], sizes };
    });
  }

  /**
   * What the catalog page shows (MetadataStore.repositorySummary), from this repository's rows
   * alone, so a Durable Object can answer it without the blob index: the newest push (one step
   * down the manifests_by_push index; 0 is an earlier version's unknown time), the bytes of the
   * distinct digests it holds as the triggers keep them (repository-figures.ts), and the digests
   * it holds without knowing their size (referenced but no longer linked, or a manifest record in
   * overflow pieces), for the caller to size from the blob index.
   */
  summary(repository: string): { lastPushedAt: number | null; bytes: number; unsized: string[] } {
    const pushed = this.#db.all<{ at: number | null }>("SELECT MAX(pushed_at) AS at FROM manifests WHERE repository = ?", repository)[0]?.at ?? null;
    return { lastPushedAt: pushed ? pushed : null, ...repositoryFigures(this.#db, repository) };
  }

  /** Every tag of the repository with its manifest and when it was last pushed (retention rules). */
  tagTimes(repository: string): TagTime[] {
    return this.#db
      .all<{ tag: string; digest: string; tagged_at: number }>("SELECT tag, digest, tagged_at FROM tags WHERE repository = ? ORDER BY tag", repository)
      .map((row) => ({ tag: row.tag, digest: row.digest, taggedAt: row.tagged_at }));
  }

  /**
   * Manifests no tag names, no other manifest of the repository references, and whose subject
   * (a signature's or SBOM's image) is not in the repository, pushed before `pushedBefore`.
   * None while any manifest of the repository has unknown references (an index imported from an
   * earlier version may hold its children), nor any whose push time is unknown (0).
   */
  untaggedManifests(repository: string, pushedBefore: number): Array<{ digest: string; pushedAt: number }> {
    return this.#db
      .all<{ digest: string; pushed_at: number }>(
        `SELECT digest, pushed_at FROM manifests m WHERE repository = ? AND pushed_at < ? AND ${UNTAGGED} ORDER BY digest`,
        repository,
        pushedBefore,
      )
      .map((row) => ({ digest: row.digest, pushedAt: row.pushed_at }));
  }

  /** Deletes the tag only if it still names `digest` and was not pushed again since `taggedAt`. */
  deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): boolean {
    return this.#db.run("DELETE FROM tags WHERE repository = ? AND tag = ? AND digest = ? AND tagged_at = ?", repository, tag, digest, taggedAt);
  }

  /** Deletes the manifest only if it is still untagged, unreferenced and not pushed again since `pushedAt`. */
  deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): boolean {
    return this.#db.transaction(() => {
      const still = this.#db.all(
        `SELECT 1 FROM manifests m WHERE repository = ? AND digest = ? AND pushed_at = ? AND ${UNTAGGED}`,
        repository,
        digest,
        pushedAt,
      );
      return still.length > 0 && this.deleteManifest(repository, digest);
    });
  }

  /** A pull of the manifest at `at`, written only when its last use is before `unlessSince` (PullRecords). */
  recordPull(repository: string, digest: string, at: number, unlessSince: number): boolean {
    return this.#db.run(`UPDATE manifests SET pulled_at = ? WHERE repository = ? AND digest = ? AND ${LAST_USE} < ?`, at, repository, digest, unlessSince);
  }

  /** Manifests whose last use (pull or put) is known and before `before`. */
  unpulledManifests(repository: string, before: number): Array<{ digest: string; lastUsedAt: number }> {
    return this.#db
      .all<{ digest: string; last: number }>(`SELECT digest, ${LAST_USE} AS last FROM manifests WHERE repository = ? AND ${LAST_USE} > 0 AND ${LAST_USE} < ? ORDER BY digest`, repository, before)
      .map((row) => ({ digest: row.digest, lastUsedAt: row.last }));
  }

  /** Deletes the manifest (tags with it) only if it was not pulled or put since it was listed. */
  deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): boolean {
    return this.#db.transaction(() => {
      const still = this.#db.all(`SELECT 1 FROM manifests WHERE repository = ? AND digest = ? AND ${LAST_USE} = ?`, repository, digest, lastUsedAt);
      return still.length > 0 && this.deleteManifest(repository, digest);
    });
  }

  /** Whether the repository has no link, manifest, tag or upload (what makes it worth a catalog entry). */
  holdsNothing(repository: string): boolean {
    return ["links", "manifests", "tags", "uploads"].every((table) => this.#db.all(`SELECT 1 FROM ${table} WHERE repository = ? LIMIT 1`, repository).length === 0);
  }

  /** Every record of the repository, in one transaction; answers what went (the uploads whole, for their storage to be freed). */
  deleteRepository(repository: string): { manifests: number; tags: number; links: number; uploads: UploadRecord[] } {
    return this.#db.transaction(() => {
      const count = (table: string) => this.#db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE repository = ?`, repository)[0]!.n;
      const result = {
        manifests: count("manifests"),
        tags: count("tags"),
        links: count("links"),
        uploads: this.#db.all<{ record: string }>("SELECT record FROM uploads WHERE repository = ?", repository).map((row) => JSON.parse(row.record) as UploadRecord),
      };
      // The triggers empty `held` and the figures row as the rows go; both are cleared besides, so nothing outlives the repository.
      for (const table of ["links", "manifests", "manifest_refs", "manifest_overflow", "tags", "uploads", "held", "repository_figures"]) {
        this.#db.run(`DELETE FROM ${table} WHERE repository = ?`, repository);
      }
      return result;
    });
  }

  #writeReferences(repository: string, digest: string, references: ManifestReferences): void {
    this.#db.run("DELETE FROM manifest_refs WHERE repository = ? AND manifest = ?", repository, digest);
    for (const held of new Set([...references.blobs, ...references.manifests, ...(references.held ?? [])])) {
      this.#db.run("INSERT INTO manifest_refs (repository, manifest, digest) VALUES (?, ?, ?)", repository, digest, held);
    }
  }

  /** Removes the manifest with every tag on it, all or nothing; its referrer entry goes with its row. */
  deleteManifest(repository: string, digest: string): boolean {
    return this.#db.transaction(() => {
      if (!this.#db.run("DELETE FROM manifests WHERE repository = ? AND digest = ?", repository, digest)) return false;
      this.#db.run("DELETE FROM manifest_refs WHERE repository = ? AND manifest = ?", repository, digest);
      this.#db.run("DELETE FROM manifest_overflow WHERE repository = ? AND digest = ?", repository, digest);
      this.#db.run("DELETE FROM tags WHERE repository = ? AND digest = ?", repository, digest);
      return true;
    });
  }

  listReferrers(repository: string, subject: string): ManifestRecord[] {
    return this.#db
      .all<ManifestRow>("SELECT digest, record, overflow_parts FROM manifests WHERE repository = ? AND subject = ? ORDER BY digest", repository, subject)
      .map((row) => this.#record(repository, row));
  }

  createUpload(record: UploadRecord): void {
    this.#db.run(
      "INSERT INTO uploads (repository, id, version, created_at, touched_at, record) VALUES (?, ?, ?, ?, ?, ?)",
      record.repository,
      record.id,
      record.version,
      record.createdAt,
      record.updatedAt ?? record.createdAt,
      JSON.stringify(record),
    );
  }

  getUpload(repository: string, id: string): UploadRecord | null {
    const row = first(this.#db.all<{ record: string }>("SELECT record FROM uploads WHERE repository = ? AND id = ?", repository, id));
    return row && (JSON.parse(row.record) as UploadRecord);
  }

  /** The condition on `version` is what keeps two racing PATCHes from both winning. */
  updateUpload(record: UploadRecord, expectedVersion: number): boolean {
    return this.#db.run(
      "UPDATE uploads SET version = ?, touched_at = ?, record = ? WHERE repository = ? AND id = ? AND version = ?",
      record.version,
      record.updatedAt ?? record.createdAt,
      JSON.stringify(record),
      record.repository,
      record.id,
      expectedVersion,
    );
  }

  deleteUpload(repository: string, id: string): boolean {
    return this.#db.run("DELETE FROM uploads WHERE repository = ? AND id = ?", repository, id);
  }

  /** Least recently changed first: uploads last changed before `before`, at most `limit`. */
  listStaleUploads(before: number, limit: number): UploadRecord[] {
    return this.#db
      .all<{ record: string }>("SELECT record FROM uploads WHERE touched_at < ? ORDER BY touched_at, repository, id LIMIT ?", before, Math.max(0, limit))
      .map((row) => JSON.parse(row.record) as UploadRecord);
  }

  #record(repository: string, row: ManifestRow): ManifestRecord {
    let json = row.record;
    if (row.overflow_parts > 0) {
      for (const part of this.#db.all<{ text: string }>(
        "SELECT text FROM manifest_overflow WHERE repository = ? AND digest = ? ORDER BY seq",
        repository,
        row.digest,
      )) {
        json += part.text;
      }
    }
    return JSON.parse(json) as ManifestRecord;
  }
}

/** The global blob index: first writer wins. */
export class BlobIndexRecords {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  getBlob(digest: string): BlobInfo | null {
    return first(this.#db.all<BlobInfo>("SELECT digest, size, key FROM blobs WHERE digest = ?", digest));
  }

  /** Records `info` unless the digest is known; answers the entry now stored, revived if it was marked. */
  putBlobIfAbsent(info: BlobInfo): BlobInfo {
    return this.#db.transaction(() => {
      if (!this.#db.run("INSERT OR IGNORE INTO blobs (digest, size, key) VALUES (?, ?, ?)", info.digest, info.size, info.key)) {
        this.#db.run("UPDATE blobs SET marked_at = NULL WHERE digest = ? AND marked_at IS NOT NULL", info.digest);
      }
      return this.getBlob(info.digest)!;
    });
  }

  listIndex(after: string, limit: number): Array<BlobInfo & { markedAt: number | null }> {
    return this.#db
      .all<BlobInfo & { marked_at: number | null }>("SELECT digest, size, key, marked_at FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?", after, Math.max(0, limit))
      .map(({ marked_at, ...info }) => ({ ...info, markedAt: marked_at }));
  }

  /** Marks an unmarked entry still at `key`. */
  mark(digest: string, key: string, now: number): boolean {
    return this.#db.run("UPDATE blobs SET marked_at = ? WHERE digest = ? AND key = ? AND marked_at IS NULL", now, digest, key);
  }

  /** Removes the entry only if it still has this key and this mark (no revive since). */
  removeMarked(digest: string, key: string, markedAt: number): boolean {
    return this.#db.run("DELETE FROM blobs WHERE digest = ? AND key = ? AND marked_at = ?", digest, key, markedAt);
  }

  /**
   * Clears a garbage-collection mark on the entry for `digest` at `key`; answers whether
   * that entry exists. Every link and manifest put calls it, so a marked entry that gains a
   * holder is never swept, and one already swept is never linked.
   */
  revive(digest: string, key: string): boolean {
    return this.#db.transaction(() => {
      if (this.#db.all("SELECT 1 FROM blobs WHERE digest = ? AND key = ?", digest, key).length === 0) return false;
      this.#db.run("UPDATE blobs SET marked_at = NULL WHERE digest = ? AND marked_at IS NOT NULL", digest);
      return true;
    });
  }
}

/** The catalog of registered repositories. */
export class CatalogRecords {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  register(name: string): void {
    this.#db.run("INSERT OR IGNORE INTO repositories (name) VALUES (?)", name);
  }

  unregister(name: string): boolean {
    return this.#db.run("DELETE FROM repositories WHERE name = ?", name);
  }

  has(name: string): boolean {
    return this.#db.all("SELECT 1 FROM repositories WHERE name = ?", name).length > 0;
  }

  /** BINARY collation: code-point order, as the spec's listings want. */
  list(page: Page): string[] {
    return this.#db
      .all<{ name: string }>("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", page.after ?? "", limitOf(page))
      .map((row) => row.name);
  }
}

/**
 * A link no manifest of its repository uses, written before `?` (a push in progress links its
 * layers before its manifest, within the upload TTL). A repository with a manifest whose
 * references are not recorded yet has no orphans: its references are unknown. Garbage
 * collection's rule, here and in collector-records.ts.
 */
export const ORPHAN_LINK = `links.linked_at < ?
  AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repository = links.repository AND r.digest = links.digest)
  AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository = links.repository AND m.digest = links.digest)
  AND NOT EXISTS (SELECT 1 FROM manifests u WHERE u.repository = links.repository AND u.refs_recorded = 0)`;

/**
 * Manifest `m` is one retention may delete as untagged: no tag names it, no manifest of the
 * repository references it, its subject is not there, its push time is known, and no manifest
 * of the repository has unknown references (an index imported from an earlier version may
 * hold it).
 */
const UNTAGGED = `m.pushed_at > 0
  AND NOT EXISTS (SELECT 1 FROM manifests u WHERE u.repository = m.repository AND u.refs_recorded = 0)
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest)
  AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repository = m.repository AND r.digest = m.digest)
  AND (m.subject IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository = m.repository AND s.digest = m.subject))`;

/** A manifest's last use: its last recorded pull or its last put, whichever is later (0: unknown). */
const LAST_USE = "max(coalesce(pulled_at, 0), pushed_at)";

const NO_REFERENCES: ManifestReferences = { blobs: [], manifests: [] };

type ManifestRow = { digest: string; record: string; overflow_parts: number };

/** SQLite's LIMIT -1 is "no limit". */
function limitOf(page: Page): number {
  return page.limit === undefined ? -1 : Math.max(0, page.limit);
}

/**
 * A Durable Object's SQLite row holds at most 2 MB. Manifest records are
 * small unless a manifest (up to 4 MiB) carries huge annotations, so their
 * JSON is cut into pieces of at most 512 Ki UTF-16 units (at most 1.5 MB of
 * UTF-8). Node's SQLite has no such limit; the same layout keeps one rule.
 */
const RECORD_PIECE = 512 * 1024;

function splitRecord(record: ManifestRecord): string[] {
  const json = JSON.stringify(record);
  const pieces: string[] = [];
  let offset = 0;
  do {
    let end = Math.min(offset + RECORD_PIECE, json.length);
    // Never split a surrogate pair: each piece must be valid UTF-16 on its own.
    if (end < json.length && isHighSurrogate(json.charCodeAt(end - 1))) end -= 1;
    pieces.push(json.slice(offset, end));
    offset = end;
  } while (offset < json.length);
  return pieces;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
