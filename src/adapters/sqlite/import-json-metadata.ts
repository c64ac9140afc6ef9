import { existsSync, readdirSync, readFileSync, renameSync, type Dirent } from "node:fs";
import { join } from "node:path";
import type { BlobInfo, ManifestRecord, UploadRecord } from "../../ports/metadata-store.ts";
import type { SqlDriver } from "../sql/driver.ts";
import { BlobIndexRecords, CatalogRecords, RepositoryRecords } from "../sql/records.ts";
import { BLOB_INDEX_TABLES, CATALOG_TABLES, REPOSITORY_TABLES } from "../sql/schema.ts";

export interface ImportedCounts {
  repositories: number;
  blobs: number;
  links: number;
  manifests: number;
  tags: number;
  uploads: number;
}

/**
 * Imports the metadata of earlier versions (one JSON file per record under
 * DATA_DIR/metadata, layout in core/storage-layout.ts "filesystem (before
 * SQLite)") into the SQLite database, in one transaction, then renames the
 * folder to `metadata.imported-<time>` so it is never read again.
 *
 * Done at start-up rather than by a separate command: the metadata is small
 * (a few hundred bytes a record), the import is idempotent (every row is an
 * upsert of the same values), and an operator upgrading expects `npm start`
 * to keep serving what it served. A crash between the commit and the rename
 * imports the same rows again on the next start. Nothing is deleted: the
 * old folder stays beside the new database until the operator removes it.
 *
 * Returns null when there is nothing to import.
 */
export function importJsonMetadata(db: SqlDriver, dataDir: string, now = new Date()): (ImportedCounts & { keptAt: string }) | null {
  const root = join(dataDir, "metadata");
  if (!existsSync(root)) return null;
  db.exec(REPOSITORY_TABLES + BLOB_INDEX_TABLES + CATALOG_TABLES);
  const repositories = new RepositoryRecords(db);
  const blobIndex = new BlobIndexRecords(db);
  const catalog = new CatalogRecords(db);
  const counts: ImportedCounts = { repositories: 0, blobs: 0, links: 0, manifests: 0, tags: 0, uploads: 0 };

  db.transaction(() => {
    for (const file of jsonFilesUnder(join(root, "blobs"))) {
      blobIndex.putBlobIfAbsent(readRecord<BlobInfo>(file));
      counts.blobs++;
    }
    for (const dir of repositoryDirs(join(root, "repositories"))) {
      const { name } = readRecord<{ name: string }>(join(dir, "_repository.json"));
      catalog.register(name);
      counts.repositories++;
      for (const file of jsonFilesUnder(join(dir, "_links"))) {
        // Written long ago as far as garbage collection can tell: a link no manifest uses is an orphan.
        repositories.linkBlob(name, readRecord<BlobInfo>(file), 0);
        counts.links++;
      }
      for (const file of jsonFilesUnder(join(dir, "_manifests"))) {
        const record = readRecord<ManifestRecord>(file);
        // Earlier versions kept manifest bytes out of the blob index; garbage collection needs them in
        // it. When the digest is indexed already (its bytes also pushed as a blob), the record names
        // that object, so no object is left that nothing indexes (the leftover sweep would take it).
        record.key = blobIndex.putBlobIfAbsent({ digest: record.digest, size: record.size, key: record.key }).key;
        // References unknown (null): garbage collection reads them from the bytes before trusting this repository's links.
        repositories.putManifest(name, record, [], null);
        counts.manifests++;
      }
      for (const entry of entries(join(dir, "_tags"))) {
        if (!entry.isFile() || !entry.name.endsWith(".json")) continue;
        const { digest } = readRecord<{ digest: string }>(join(dir, "_tags", entry.name));
        // A tag whose manifest was never written (an interrupted put) pointed at nothing; it stays out.
        if (!repositories.getManifest(name, digest)) continue;
        db.run("INSERT OR REPLACE INTO tags (repository, tag, digest, tagged_at) VALUES (?, ?, ?, 0)", name, tagOfFile(entry.name), digest);
        counts.tags++;
      }
    }
    for (const file of jsonFilesUnder(join(root, "uploads"))) {
      const record = readRecord<UploadRecord>(file);
      if (!repositories.getUpload(record.repository, record.id)) repositories.createUpload(record);
      counts.uploads++;
    }
  });

  const keptAt = `${root}.imported-${now.toISOString().replace(/[:.]/g, "-")}`;
  renameSync(root, keptAt);
  return { ...counts, keptAt };
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** `*.json` files anywhere below `dir` (digests are stored as `<alg>/<hex>.json`). */
function jsonFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of entries(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...jsonFilesUnder(path));
    else if (entry.isFile() && entry.name.endsWith(".json")) found.push(path);
  }
  return found;
}

/** Directories holding `_repository.json`; reserved directories start with "_". */
function repositoryDirs(dir: string): string[] {
  const found: string[] = [];
  for (const entry of entries(dir)) {
    if (entry.name === "_repository.json") found.push(dir);
    else if (entry.isDirectory() && !entry.name.startsWith("_")) found.push(...repositoryDirs(join(dir, entry.name)));
  }
  return found;
}

function readRecord<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (error) {
    throw new Error(`cannot import ${path}: ${(error as Error).message}; fix or remove that file and start again`);
  }
}

/** Tag file names wrote each uppercase letter as "^" + lowercase (case-insensitive disks). */
function tagOfFile(file: string): string {
  return file.replace(/\.json$/, "").replace(/\^([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
