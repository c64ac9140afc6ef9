import type { SqlDriver } from "./driver.ts";

/**
 * Each repository's size, kept by triggers as its rows come and go, so the catalog page reads one
 * row per repository instead of adding up every link, manifest and reference (26 ms for a
 * repository of 10,000 manifests on node:sqlite, 300 ms for 100,000; on a Durable Object, rows
 * read are billed).
 *
 *   held (repository, digest) PK, size, holders   a digest the repository holds: `holders` counts
 *                                                 its link, its manifest row and the references of
 *                                                 its manifests; `size` from the link or manifest
 *                                                 (0 while only references hold it: the blob index,
 *                                                 elsewhere on Durable Objects, knows its size)
 *   repository_figures (repository PK, bytes)     the sum of `held.size` of the repository
 *
 * A trigger runs inside the statement that fired it, so the figures change in the same
 * transaction as the rows, by whichever path writes them (pushes, deletes, the collector's
 * orphan-link removal, repository deletion, imports). Writers must not use INSERT OR REPLACE
 * on these tables: its implicit delete fires no trigger (recursive_triggers is off); they upsert.
 * Databases from before this table get it, filled from their rows, the first time they open.
 */
const TABLES = `
  CREATE TABLE held (repository TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, holders INTEGER NOT NULL, PRIMARY KEY (repository, digest));
  CREATE INDEX held_unsized ON held (repository) WHERE size = 0;
  CREATE TABLE repository_figures (repository TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
`;

const BACKFILL = `
  INSERT INTO held (repository, digest, size, holders)
    SELECT repository, digest, MAX(size), COUNT(*) FROM (
      SELECT repository, digest, size FROM links
      UNION ALL SELECT repository, digest, ${manifestSize("")} FROM manifests
      UNION ALL SELECT repository, digest, 0 FROM manifest_refs)
    GROUP BY repository, digest;
  INSERT INTO repository_figures (repository, bytes) SELECT repository, SUM(size) FROM held GROUP BY repository;
`;

/** A manifest row's size: in its record's JSON, unless the record is cut into overflow pieces (huge annotations). */
function manifestSize(row: "NEW." | ""): string {
  return `CASE WHEN ${row}overflow_parts = 0 THEN COALESCE(json_extract(${row}record, '$.size'), 0) ELSE 0 END`;
}

/** The row NEW gains a holder of its digest with `size` (0: unknown); a digest newly held adds its size. */
function hold(size: string): string {
  const known = "COALESCE((SELECT size FROM held WHERE repository = NEW.repository AND digest = NEW.digest), 0)";
  return `
    INSERT INTO repository_figures (repository, bytes) VALUES (NEW.repository, MAX(${known}, ${size}) - ${known})
      ON CONFLICT (repository) DO UPDATE SET bytes = bytes + excluded.bytes;
    INSERT INTO held (repository, digest, size, holders) VALUES (NEW.repository, NEW.digest, ${size}, 1)
      ON CONFLICT (repository, digest) DO UPDATE SET holders = holders + 1, size = MAX(size, excluded.size);`;
}

/** The row OLD was a holder of its digest; a digest no longer held takes its size away. */
const RELEASE = `
    UPDATE held SET holders = holders - 1 WHERE repository = OLD.repository AND digest = OLD.digest;
    UPDATE repository_figures SET bytes = bytes - COALESCE((SELECT size FROM held WHERE repository = OLD.repository AND digest = OLD.digest AND holders <= 0), 0)
      WHERE repository = OLD.repository;
    DELETE FROM held WHERE repository = OLD.repository AND digest = OLD.digest AND holders <= 0;`;

const TRIGGERS = `
  CREATE TRIGGER held_by_link AFTER INSERT ON links BEGIN ${hold("NEW.size")} END;
  CREATE TRIGGER released_by_link AFTER DELETE ON links BEGIN ${RELEASE} END;
  CREATE TRIGGER held_by_manifest AFTER INSERT ON manifests BEGIN ${hold(manifestSize("NEW."))} END;
  CREATE TRIGGER released_by_manifest AFTER DELETE ON manifests BEGIN ${RELEASE} END;
  CREATE TRIGGER held_by_reference AFTER INSERT ON manifest_refs BEGIN ${hold("0")} END;
  CREATE TRIGGER released_by_reference AFTER DELETE ON manifest_refs BEGIN ${RELEASE} END;
`;

/** Creates the figures, filled from the rows already there, and their triggers, once; run after the repository tables exist. */
export function ensureRepositoryFigures(db: SqlDriver): void {
  const present = () => db.all("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'released_by_reference'").length > 0;
  if (present()) return;
  db.transaction(() => {
    // Another process may have created them since the check above (Node: several on one file).
    if (present()) return;
    db.exec(TABLES + BACKFILL + TRIGGERS);
  });
}

/** The repository's size and the digests it holds whose size only the blob index knows. */
export function repositoryFigures(db: SqlDriver, repository: string): { bytes: number; unsized: string[] } {
  const bytes = db.all<{ bytes: number }>("SELECT bytes FROM repository_figures WHERE repository = ?", repository)[0]?.bytes ?? 0;
  const unsized = db.all<{ digest: string }>("SELECT digest FROM held WHERE repository = ? AND size = 0", repository).map((row) => row.digest);
  return { bytes, unsized };
}
