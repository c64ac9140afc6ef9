import { join } from "node:path";
import { importJsonMetadata, type ImportedCounts } from "./import-json-metadata.ts";
import { SqliteBlobFlights } from "./blob-flights.ts";
import { SqliteMetadataStore } from "./metadata-store.ts";
import { NodeSqliteDriver } from "./node-driver.ts";

/** The metadata database's file under DATA_DIR (WAL mode adds `-wal` and `-shm` beside it). */
export const DATABASE_FILE = "registry.db";

export interface LocalMetadata {
  store: SqliteMetadataStore;
  /** This process's claims on blobs it fetches from a mirror's upstream, seen by every process on the DATA_DIR. */
  flights: SqliteBlobFlights;
  close(): void;
}

/** Opens (creating if needed) the SQLite metadata of a DATA_DIR. */
export function openLocalMetadata(dataDir: string, options: { now?: () => number } = {}): LocalMetadata {
  const driver = new NodeSqliteDriver(join(dataDir, DATABASE_FILE));
  const store = new SqliteMetadataStore(driver, options);
  return { store, flights: new SqliteBlobFlights(driver), close: () => driver.close() };
}

/**
 * Prepares a DATA_DIR before any process serves it: creates the database and
 * imports the JSON metadata of earlier versions, if there is any. Run by one
 * process (the primary) before the workers open the database.
 */
export function prepareLocalMetadata(dataDir: string): (ImportedCounts & { keptAt: string }) | null {
  return withDatabase(dataDir, (driver) => importJsonMetadata(driver, dataDir));
}

/** Runs `body` on a short-lived connection to a DATA_DIR's database (schema created). */
export function withDatabase<T>(dataDir: string, body: (driver: NodeSqliteDriver) => T): T {
  const driver = new NodeSqliteDriver(join(dataDir, DATABASE_FILE));
  try {
    new SqliteMetadataStore(driver);
    return body(driver);
  } finally {
    driver.close();
  }
}
