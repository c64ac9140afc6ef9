import { DurableObject } from "cloudflare:workers";
import type { CycleState } from "../../ports/collection-cycle.ts";
import type { Page } from "../../ports/metadata-store.ts";
import { CatalogRecords } from "../sql/records.ts";
import { addColumnIfMissing, CATALOG_TABLES } from "../sql/schema.ts";
import { DurableObjectSqlDriver } from "./do-driver.ts";

/**
 * The catalog: every registered repository's name, in one object, so the
 * listing is one ordered query (sql/records.ts). It is written once per
 * registration of a repository (the repository object keeps the token it was
 * registered with), so one object is not a bottleneck for pushes.
 *
 * Each registration gives the name a fresh token, a number greater than every
 * token given before (to any name, so also after the name was dropped); a
 * repository deletion or empty-repository drop reads the name's token here
 * first, fences it in the repository object, and removes the name only if its
 * token is still that one, so a push that registered again meanwhile keeps the
 * name listed; a repository object never accepts a token older than one it has
 * seen or been fenced with (the argument: DurableObjectMetadataStore.deleteRepository).
 */
export class CatalogObject extends DurableObject<unknown> {
  readonly #records: CatalogRecords;
  readonly #driver: DurableObjectSqlDriver;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#driver = new DurableObjectSqlDriver(ctx.storage);
    this.#driver.exec(CATALOG_TABLES);
    // Names registered before deletions existed have no token (NULL), as do their objects.
    addColumnIfMissing(this.#driver, "repositories", "token", "TEXT");
    this.#records = new CatalogRecords(this.#driver);
    this.#driver.exec(CYCLE_TABLES + SEQUENCE_TABLE);
  }

  /** Lists the name (again) under a fresh token, greater than any given before, and answers the token. */
  register(name: string): string {
    return this.#driver.transaction(() => {
      this.#driver.run("INSERT INTO registration_sequence (id, last) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET last = last + 1");
      const token = String(this.#driver.all<{ last: number }>("SELECT last FROM registration_sequence WHERE id = 1")[0]!.last);
      this.#driver.run("INSERT INTO repositories (name, token) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET token = excluded.token", name, token);
      return token;
    });
  }

  /** Removes the name only if no registration came since the one that gave `token`; answers whether it did. */
  unregister(name: string, token: string | null): boolean {
    return this.#driver.run("DELETE FROM repositories WHERE name = ? AND token IS ?", name, token);
  }

  /** The token the name is listed under (null: listed before tokens existed); undefined if not listed. */
  tokenOf(name: string): string | null | undefined {
    const row = this.#driver.all<{ token: string | null }>("SELECT token FROM repositories WHERE name = ?", name)[0];
    return row === undefined ? undefined : row.token;
  }

  has(name: string): boolean {
    return this.#records.has(name);
  }

  list(page: Page): string[] {
    return this.#records.list(page);
  }

  /*
   * The garbage collection cycle spread over cron runs (lifecycle/resumable-collector.ts). One
   * at a time; every write is conditional on its cycle still being the current one, so an
   * invocation still running an ended cycle changes nothing.
   */

  beginOrResumeCycle(fresh: CycleState): CycleState {
    return this.#driver.transaction(() => {
      const current = this.currentCycle();
      if (current) return current;
      this.#driver.run("INSERT INTO gc_cycle (id, started_at, state) VALUES (1, ?, ?)", fresh.startedAt, JSON.stringify(fresh));
      return fresh;
    });
  }

  currentCycle(): CycleState | null {
    const row = this.#driver.all<{ state: string }>("SELECT state FROM gc_cycle WHERE id = 1")[0];
    return row ? (JSON.parse(row.state) as CycleState) : null;
  }

  saveCycle(state: CycleState): boolean {
    return this.#driver.run("UPDATE gc_cycle SET state = ? WHERE id = 1 AND started_at = ?", JSON.stringify(state), state.startedAt);
  }

  addHeld(startedAt: number, digests: string[]): boolean {
    return this.#driver.transaction(() => {
      if (this.#driver.all("SELECT 1 FROM gc_cycle WHERE id = 1 AND started_at = ?", startedAt).length === 0) return false;
      for (const digest of digests) this.#driver.run("INSERT OR IGNORE INTO gc_held (cycle, digest) VALUES (?, ?)", startedAt, digest);
      return true;
    });
  }

  /** Null once the cycle has ended: its held digests are gone, and "none held" would be a lie. */
  heldAmong(startedAt: number, digests: string[]): string[] | null {
    if (this.#driver.all("SELECT 1 FROM gc_cycle WHERE id = 1 AND started_at = ?", startedAt).length === 0) return null;
    return digests.filter((digest) => this.#driver.all("SELECT 1 FROM gc_held WHERE cycle = ? AND digest = ?", startedAt, digest).length > 0);
  }

  endCycle(startedAt: number): void {
    this.#driver.transaction(() => {
      this.#driver.run("DELETE FROM gc_cycle WHERE id = 1 AND started_at = ?", startedAt);
      this.#driver.run("DELETE FROM gc_held WHERE cycle = ?", startedAt);
    });
  }
}

/** Registration tokens are this counter's values (tokens written before it existed were random UUIDs). */
const SEQUENCE_TABLE = `
  CREATE TABLE IF NOT EXISTS registration_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
`;

const CYCLE_TABLES = `
  CREATE TABLE IF NOT EXISTS gc_cycle (id INTEGER PRIMARY KEY CHECK (id = 1), started_at INTEGER NOT NULL, state TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS gc_held (cycle INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (cycle, digest));
`;
