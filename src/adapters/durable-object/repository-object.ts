import { DurableObject } from "cloudflare:workers";
import type { BlobInfo, ManifestRecord, Page, UploadRecord } from "../../ports/metadata-store.ts";

/**
 * One Durable Object per repository (named by the repository): its blob
 * links, manifests, tags, referrers and upload sessions, in its own SQLite
 * database (tables in core/storage-layout.ts, "durable-object"). A Durable
 * Object runs one call at a time against storage no one else can touch, and
 * every method here is one synchronous transaction, so each is atomic and
 * strongly consistent without locks: the conditional upload update and the
 * multi-table manifest writes need nothing more.
 */
export class RepositoryObject extends DurableObject<unknown> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(SCHEMA);
  }

  /** Links the blob; answers whether the repository was already registered in the catalog. */
  linkBlob(info: BlobInfo): boolean {
    this.#sql.exec("INSERT OR REPLACE INTO links (digest, size, key) VALUES (?, ?, ?)", info.digest, info.size, info.key);
    return this.isRegistered();
  }

  getBlobLink(digest: string): BlobInfo | null {
    const row = this.#sql.exec<{ digest: string; size: number; key: string }>("SELECT digest, size, key FROM links WHERE digest = ?", digest).toArray()[0];
    return row ? { digest: row.digest, size: row.size, key: row.key } : null;
  }

  unlinkBlob(digest: string): boolean {
    return this.#sql.exec("DELETE FROM links WHERE digest = ?", digest).rowsWritten > 0;
  }

  /** Stores the record, points the tags at it, indexes its subject; answers whether the repository was registered. */
  putManifest(record: ManifestRecord, tags: string[]): boolean {
    this.ctx.storage.transactionSync(() => {
      const [head, ...overflow] = splitRecord(record);
      this.#sql.exec(
        "INSERT OR REPLACE INTO manifests (digest, subject, record, overflow_parts) VALUES (?, ?, ?, ?)",
        record.digest,
        record.subject ?? null,
        head,
        overflow.length,
      );
      this.#sql.exec("DELETE FROM manifest_overflow WHERE digest = ?", record.digest);
      overflow.forEach((text, i) => this.#sql.exec("INSERT INTO manifest_overflow (digest, seq, text) VALUES (?, ?, ?)", record.digest, i, text));
      for (const tag of tags) this.#sql.exec("INSERT OR REPLACE INTO tags (tag, digest) VALUES (?, ?)", tag, record.digest);
    });
    return this.isRegistered();
  }

  getManifest(digest: string): ManifestRecord | null {
    const row = this.#sql.exec<ManifestRow>("SELECT digest, record, overflow_parts FROM manifests WHERE digest = ?", digest).toArray()[0];
    return row ? this.#record(row) : null;
  }

  getTaggedManifest(tag: string): ManifestRecord | null {
    const row = this.#sql
      .exec<ManifestRow>("SELECT m.digest, m.record, m.overflow_parts FROM tags t JOIN manifests m ON m.digest = t.digest WHERE t.tag = ?", tag)
      .toArray()[0];
    return row ? this.#record(row) : null;
  }

  /** BINARY collation compares UTF-8 bytes, which is code-point order, as the spec's listings want. */
  listTags(page: Page): string[] {
    return this.#sql
      .exec<{ tag: string }>("SELECT tag FROM tags WHERE tag > ? ORDER BY tag LIMIT ?", page.after ?? "", page.limit ?? -1)
      .toArray()
      .map((row) => row.tag);
  }

  deleteTag(tag: string): boolean {
    return this.#sql.exec("DELETE FROM tags WHERE tag = ?", tag).rowsWritten > 0;
  }

  /** Removes the manifest with every tag on it; its referrer entry goes with its row. */
  deleteManifest(digest: string): boolean {
    return this.ctx.storage.transactionSync(() => {
      const deleted = this.#sql.exec("DELETE FROM manifests WHERE digest = ?", digest).rowsWritten > 0;
      if (!deleted) return false;
      this.#sql.exec("DELETE FROM manifest_overflow WHERE digest = ?", digest);
      this.#sql.exec("DELETE FROM tags WHERE digest = ?", digest);
      return true;
    });
  }

  listReferrers(subject: string): ManifestRecord[] {
    return this.#sql
      .exec<ManifestRow>("SELECT digest, record, overflow_parts FROM manifests WHERE subject = ? ORDER BY digest", subject)
      .toArray()
      .map((row) => this.#record(row));
  }

  isRegistered(): boolean {
    return this.#sql.exec("SELECT 1 FROM registration").toArray().length > 0;
  }

  /** Called once the catalog has the repository, so later links and manifests skip the catalog. */
  markRegistered(): void {
    this.#sql.exec("INSERT OR IGNORE INTO registration (registered) VALUES (1)");
  }

  createUpload(record: UploadRecord): void {
    this.#sql.exec(
      "INSERT INTO uploads (id, version, created_at, record) VALUES (?, ?, ?, ?)",
      record.id,
      record.version,
      record.createdAt,
      JSON.stringify(record),
    );
  }

  getUpload(id: string): UploadRecord | null {
    const row = this.#sql.exec<{ record: string }>("SELECT record FROM uploads WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.record) as UploadRecord) : null;
  }

  /** The condition on `version` is what keeps two racing PATCHes from both winning. */
  updateUpload(record: UploadRecord, expectedVersion: number): boolean {
    const cursor = this.#sql.exec(
      "UPDATE uploads SET version = ?, record = ? WHERE id = ? AND version = ?",
      record.version,
      JSON.stringify(record),
      record.id,
      expectedVersion,
    );
    return cursor.rowsWritten > 0;
  }

  deleteUpload(id: string): boolean {
    return this.#sql.exec("DELETE FROM uploads WHERE id = ?", id).rowsWritten > 0;
  }

  #record(row: ManifestRow): ManifestRecord {
    let json = row.record;
    if (row.overflow_parts > 0) {
      for (const part of this.#sql.exec<{ text: string }>("SELECT text FROM manifest_overflow WHERE digest = ? ORDER BY seq", row.digest)) json += part.text;
    }
    return JSON.parse(json) as ManifestRecord;
  }
}

type ManifestRow = { digest: string; record: string; overflow_parts: number };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS links (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS manifests (digest TEXT PRIMARY KEY, subject TEXT, record TEXT NOT NULL, overflow_parts INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;
  CREATE TABLE IF NOT EXISTS manifest_overflow (digest TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (digest, seq));
  CREATE TABLE IF NOT EXISTS tags (tag TEXT PRIMARY KEY, digest TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (digest);
  CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, version INTEGER NOT NULL, created_at INTEGER NOT NULL, record TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS registration (registered INTEGER PRIMARY KEY);
`;

/**
 * A SQLite row in a Durable Object holds at most 2 MB. Manifest records are
 * small unless a manifest (up to 4 MiB) carries huge annotations, so their JSON
 * is cut into pieces of at most 512 Ki UTF-16 units (at most 1.5 MB of UTF-8).
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
