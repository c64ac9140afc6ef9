import { DurableObject } from "cloudflare:workers";
import type { BlobInfo } from "../../ports/metadata-store.ts";

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
 * the blob index, hit by every push, over several objects.
 */
export class IndexShardObject extends DurableObject<unknown> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(SCHEMA);
  }

  getBlob(digest: string): BlobInfo | null {
    const row = this.#sql.exec<{ digest: string; size: number; key: string }>("SELECT digest, size, key FROM blobs WHERE digest = ?", digest).toArray()[0];
    return row ? { digest: row.digest, size: row.size, key: row.key } : null;
  }

  /** Records `info` unless the digest is known; answers the entry now stored. */
  putBlobIfAbsent(info: BlobInfo): BlobInfo {
    this.#sql.exec("INSERT OR IGNORE INTO blobs (digest, size, key) VALUES (?, ?, ?)", info.digest, info.size, info.key);
    return this.getBlob(info.digest)!;
  }

  addUpload(upload: OpenUpload): void {
    this.#sql.exec("INSERT OR REPLACE INTO open_uploads (repository, id, created_at) VALUES (?, ?, ?)", upload.repository, upload.id, upload.createdAt);
  }

  removeUpload(repository: string, id: string): void {
    this.#sql.exec("DELETE FROM open_uploads WHERE repository = ? AND id = ?", repository, id);
  }

  /** The oldest open uploads created before `createdBefore`, oldest first. */
  listStaleUploads(createdBefore: number, limit: number): OpenUpload[] {
    return this.#sql
      .exec<{ repository: string; id: string; created_at: number }>(
        "SELECT repository, id, created_at FROM open_uploads WHERE created_at < ? ORDER BY created_at, repository, id LIMIT ?",
        createdBefore,
        limit,
      )
      .toArray()
      .map((row) => ({ repository: row.repository, id: row.id, createdAt: row.created_at }));
  }
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS open_uploads (repository TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (repository, id));
  CREATE INDEX IF NOT EXISTS open_uploads_by_age ON open_uploads (created_at);
`;
