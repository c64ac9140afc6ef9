import { DurableObject } from "cloudflare:workers";
import type { BlobInfo } from "../../ports/metadata-store.ts";
import type { IndexedBlob } from "../../ports/collectable.ts";
import type { SqlDriver } from "../sql/driver.ts";
import { BlobIndexRecords } from "../sql/records.ts";
import { addColumnIfMissing, BLOB_INDEX_TABLES } from "../sql/schema.ts";
import { DurableObjectSqlDriver } from "./do-driver.ts";

/** An open upload as the global index knows it: enough to find its record for expiry. */
export interface OpenUpload {
  repository: string;
  id: string;
  createdAt: number;
}

/**
 * One of a fixed number of shards of the registry-wide indexes (see
 * shards.ts): the content-addressed blob index (digest → where the bytes
 * are, first writer wins) and the index of open uploads, which lets expiry
 * find abandoned uploads without visiting every repository. Sharding spreads
 * the blob index, hit by every push, over several objects. The blob index is
 * the shared SQL (sql/records.ts); the open-upload index exists only here
 * (on Node, expiry queries the uploads table itself).
 */
export class IndexShardObject extends DurableObject<unknown> {
  readonly #sql: SqlDriver;
  readonly #blobs: BlobIndexRecords;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = new DurableObjectSqlDriver(ctx.storage);
    addColumnIfMissing(this.#sql, "blobs", "marked_at", "INTEGER");
    this.#sql.exec(BLOB_INDEX_TABLES + OPEN_UPLOAD_TABLES);
    this.#blobs = new BlobIndexRecords(this.#sql);
  }

  getBlob(digest: string): BlobInfo | null {
    return this.#blobs.getBlob(digest);
  }

  /** Records `info` unless the digest is known; answers the entry now stored. */
  putBlobIfAbsent(info: BlobInfo): BlobInfo {
    return this.#blobs.putBlobIfAbsent(info);
  }

  /** Clears a collection mark; false when no entry has this digest and key. */
  revive(digest: string, key: string): boolean {
    return this.#blobs.revive(digest, key);
  }

  listIndex(after: string, limit: number): IndexedBlob[] {
    return this.#blobs.listIndex(after, limit);
  }

  markBlob(digest: string, key: string, now: number): boolean {
    return this.#blobs.mark(digest, key, now);
  }

  removeMarkedBlob(digest: string, key: string, markedAt: number): boolean {
    return this.#blobs.removeMarked(digest, key, markedAt);
  }

  addUpload(upload: OpenUpload): void {
    this.#sql.run("INSERT OR REPLACE INTO open_uploads (repository, id, created_at) VALUES (?, ?, ?)", upload.repository, upload.id, upload.createdAt);
  }

  removeUpload(repository: string, id: string): void {
    this.#sql.run("DELETE FROM open_uploads WHERE repository = ? AND id = ?", repository, id);
  }

  /** The oldest open uploads created before `createdBefore`, oldest first. */
  listStaleUploads(createdBefore: number, limit: number): OpenUpload[] {
    return this.#sql
      .all<{ repository: string; id: string; created_at: number }>(
        "SELECT repository, id, created_at FROM open_uploads WHERE created_at < ? ORDER BY created_at, repository, id LIMIT ?",
        createdBefore,
        limit,
      )
      .map((row) => ({ repository: row.repository, id: row.id, createdAt: row.created_at }));
  }
}

const OPEN_UPLOAD_TABLES = `
  CREATE TABLE IF NOT EXISTS open_uploads (repository TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (repository, id));
  CREATE INDEX IF NOT EXISTS open_uploads_by_age ON open_uploads (created_at);
`;
