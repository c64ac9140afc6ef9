/**
 * Blob-fetch claims (ports/blob-flights.ts) in the DATA_DIR's database, one row per digest
 * being fetched from an upstream, named by the claiming process (`<host>:<pid>`, as in
 * instances.ts). A row of a process known to be dead, or past its expiry, is taken over at
 * once: a crashed claimant costs the others at most one poll.
 */
import type { BlobFlights } from "../../ports/blob-flights.ts";
import type { SqlDriver } from "../sql/driver.ts";
import { isOwnerAlive, processOwner } from "./instances.ts";

const BLOB_FLIGHTS = "CREATE TABLE IF NOT EXISTS blob_flights (digest TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)";

export class SqliteBlobFlights implements BlobFlights {
  readonly #db: SqlDriver;
  readonly #owner: string;
  readonly #isAlive: (owner: string) => boolean;

  constructor(db: SqlDriver, options: { owner?: string; isAlive?: (owner: string) => boolean } = {}) {
    this.#db = db;
    this.#owner = options.owner ?? processOwner();
    this.#isAlive = options.isAlive ?? isOwnerAlive;
    db.exec(BLOB_FLIGHTS);
  }

  async claim(digest: string, ttlMs: number): Promise<boolean> {
    return this.#db.transaction(() => {
      const now = Date.now();
      const row = this.#db.all<{ owner: string; expires_at: number }>("SELECT owner, expires_at FROM blob_flights WHERE digest = ?", digest)[0];
      if (row && row.owner !== this.#owner && row.expires_at > now && this.#isAlive(row.owner)) return false;
      this.#db.run("INSERT OR REPLACE INTO blob_flights (digest, owner, expires_at) VALUES (?, ?, ?)", digest, this.#owner, now + ttlMs);
      return true;
    });
  }

  async release(digest: string): Promise<void> {
    this.#db.run("DELETE FROM blob_flights WHERE digest = ? AND owner = ?", digest, this.#owner);
  }
}
