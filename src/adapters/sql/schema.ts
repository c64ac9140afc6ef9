import type { SqlDriver } from "./driver.ts";

/**
 * The SQL metadata schema (described with the rest of the storage layout in
 * core/storage-layout.ts, "sql"). Every statement is idempotent, so each
 * connection runs the part it needs when it opens. Rows carry their
 * repository even where one database holds a single repository (a Durable
 * Object per repository), so the statements in records.ts are the same
 * everywhere.
 */

/** What a repository owns: blob links, manifests, tags (referrers are the subject index), uploads. */
export const REPOSITORY_TABLES = `
  CREATE TABLE IF NOT EXISTS links (
    repository TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, key TEXT NOT NULL, linked_at INTEGER NOT NULL,
    PRIMARY KEY (repository, digest));
  CREATE INDEX IF NOT EXISTS links_by_digest ON links (digest);
  CREATE TABLE IF NOT EXISTS manifests (
    repository TEXT NOT NULL, digest TEXT NOT NULL, subject TEXT, record TEXT NOT NULL, overflow_parts INTEGER NOT NULL,
    pushed_at INTEGER NOT NULL, refs_recorded INTEGER NOT NULL, pulled_at INTEGER,
    PRIMARY KEY (repository, digest));
  CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
  CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest);
  CREATE INDEX IF NOT EXISTS manifests_without_refs ON manifests (repository) WHERE refs_recorded = 0;
  CREATE INDEX IF NOT EXISTS manifests_by_push ON manifests (repository, pushed_at);
  CREATE TABLE IF NOT EXISTS manifest_refs (
    repository TEXT NOT NULL, manifest TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repository, manifest, digest));
  CREATE INDEX IF NOT EXISTS manifest_refs_by_digest ON manifest_refs (digest, repository);
  CREATE TABLE IF NOT EXISTS manifest_overflow (
    repository TEXT NOT NULL, digest TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (repository, digest, seq));
  CREATE TABLE IF NOT EXISTS tags (
    repository TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, tagged_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repository, tag));
  CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository, digest);
  CREATE TABLE IF NOT EXISTS uploads (
    repository TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, touched_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (repository, id));
  CREATE INDEX IF NOT EXISTS uploads_by_activity ON uploads (touched_at);
`;

/** The global content-addressed blob index: digest → where the bytes are. */
export const BLOB_INDEX_TABLES = `
  CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL, marked_at INTEGER);
  CREATE INDEX IF NOT EXISTS blobs_marked ON blobs (marked_at) WHERE marked_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS blobs_by_key ON blobs (key);
`;

/** The catalog: every registered repository's name. */
export const CATALOG_TABLES = `
  CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY);
`;

/**
 * Adds a column to a table created by an earlier version (CREATE TABLE IF NOT EXISTS leaves
 * an existing table as it was). Run before the schema's CREATE INDEX statements that use it.
 */
export function addColumnIfMissing(db: SqlDriver, table: string, column: string, declaration: string): void {
  const created = db.all<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table)[0];
  if (created && !new RegExp(`\\b${column}\\b`).test(created.sql)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
}
