import type { SqlDriver } from "../sql/driver.ts";

/**
 * Repository objects written before the shared SQL schema (sql/schema.ts)
 * had the same table names without a `repository` column. Such an object's
 * old tables are renamed aside when it starts, and their rows are copied
 * into the new tables by the first call, which is the first moment the
 * object learns its repository's name (a Durable Object is not told its
 * own name). Both steps are single transactions, so a failure leaves either
 * the old tables or the new rows, never half of each.
 */
const OLD_TABLES = ["links", "manifests", "manifest_overflow", "tags", "uploads"] as const;
const OLD_INDEXES = ["manifests_by_subject", "tags_by_digest"];

export class LegacyRepositoryTables {
  readonly #db: SqlDriver;
  #pending: boolean;

  constructor(db: SqlDriver) {
    this.#db = db;
    const links = db.all<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'links'")[0];
    if (links && !/\brepository\b/.test(links.sql)) {
      db.transaction(() => {
        for (const index of OLD_INDEXES) db.run(`DROP INDEX IF EXISTS ${index}`);
        for (const table of OLD_TABLES) {
          if (db.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table).length > 0) {
            db.run(`ALTER TABLE ${table} RENAME TO legacy_${table}`);
          }
        }
      });
    }
    this.#pending = db.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name LIKE 'legacy\\_%' ESCAPE '\\'").length > 0;
  }

  /** Copies the old rows in under `repository`, once. */
  migrate(repository: string): void {
    if (!this.#pending) return;
    const db = this.#db;
    const present = (table: string) => db.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", `legacy_${table}`).length > 0;
    db.transaction(() => {
      if (present("links")) db.run("INSERT OR IGNORE INTO links (repository, digest, size, key, linked_at) SELECT ?, digest, size, key, 0 FROM legacy_links", repository);
      if (present("manifests")) {
        db.run(
          "INSERT OR IGNORE INTO manifests (repository, digest, subject, record, overflow_parts, pushed_at, refs_recorded) SELECT ?, digest, subject, record, overflow_parts, 0, 0 FROM legacy_manifests",
          repository,
        );
      }
      if (present("manifest_overflow")) {
        db.run("INSERT OR IGNORE INTO manifest_overflow (repository, digest, seq, text) SELECT ?, digest, seq, text FROM legacy_manifest_overflow", repository);
      }
      if (present("tags")) db.run("INSERT OR IGNORE INTO tags (repository, tag, digest) SELECT ?, tag, digest FROM legacy_tags", repository);
      if (present("uploads")) {
        db.run("INSERT OR IGNORE INTO uploads (repository, id, version, created_at, touched_at, record) SELECT ?, id, version, created_at, created_at, record FROM legacy_uploads", repository);
      }
      for (const table of OLD_TABLES) db.run(`DROP TABLE IF EXISTS legacy_${table}`);
    });
    this.#pending = false;
  }
}
