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
    repository TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (repository, digest));
  CREATE TABLE IF NOT EXISTS manifests (
    repository TEXT NOT NULL, digest TEXT NOT NULL, subject TEXT, record TEXT NOT NULL, overflow_parts INTEGER NOT NULL,
    PRIMARY KEY (repository, digest));
  CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
  CREATE TABLE IF NOT EXISTS manifest_overflow (
    repository TEXT NOT NULL, digest TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (repository, digest, seq));
  CREATE TABLE IF NOT EXISTS tags (
    repository TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repository, tag));
  CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository, digest);
  CREATE TABLE IF NOT EXISTS uploads (
    repository TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (repository, id));
  CREATE INDEX IF NOT EXISTS uploads_by_age ON uploads (created_at);
`;

/** The global content-addressed blob index: digest → where the bytes are. */
export const BLOB_INDEX_TABLES = `
  CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL);
`;

/** The catalog: every registered repository's name. */
export const CATALOG_TABLES = `
  CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY);
`;
