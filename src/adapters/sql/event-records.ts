/**
 * The events outbox and the audit log in SQL (registry.db on Node). Rows of the outbox
 * live until delivered or dropped, at most an endpoint's maxPending of them at once; the
 * audit log keeps its last AUDIT_ROWS entries.
 * A claim is an UPDATE that succeeds only while no other claim is live, so of two
 * processes one sends a row and the other skips it.
 */
import type { SqlDriver } from "./driver.ts";
import type { AuditEntry, AuditStore, Outbox, OutboxEntry } from "../../observability/events/outbox.ts";

const AUDIT_ROWS = 100_000;

export function createEventTables(driver: SqlDriver): void {
  driver.exec(`CREATE TABLE IF NOT EXISTS event_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    claimed_by TEXT,
    claimed_until INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS event_outbox_due ON event_outbox (next_at);
  CREATE INDEX IF NOT EXISTS event_outbox_endpoint ON event_outbox (endpoint, next_at);
  CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository TEXT,
    entry TEXT NOT NULL
  );`);
  // audit_log.change and .at came later: added to a database made before them (in a write
  // transaction, so two processes starting together do not both add them). Older rows count as
  // not changes, and have no time (they list after every newer row).
  driver.transaction(() => {
    const columns = driver.all<{ name: string }>("PRAGMA table_info(audit_log)");
    if (!columns.some((column) => column.name === "change")) driver.exec("ALTER TABLE audit_log ADD COLUMN change INTEGER NOT NULL DEFAULT 0");
    if (!columns.some((column) => column.name === "at")) driver.exec("ALTER TABLE audit_log ADD COLUMN at TEXT");
  });
  // Listings go by time (entries of equal time by id: every index ends with the row id); trimming
  // goes by id within each kind. The (repository, id) index listings used before is dropped: every
  // audited request paid for it.
  driver.exec(`
    DROP INDEX IF EXISTS audit_log_repository;
    CREATE INDEX IF NOT EXISTS audit_log_change ON audit_log (change, id);
    CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
    CREATE INDEX IF NOT EXISTS audit_log_repository_at ON audit_log (repository, at);
    CREATE INDEX IF NOT EXISTS audit_log_change_at ON audit_log (change, at);`);
  // Rows without a time: written before the column existed, or by a process of the older version
  // still running during an upgrade. Their time is in the entry.
  driver.run("UPDATE audit_log SET at = json_extract(entry, '$.time') WHERE at IS NULL");
}

export class SqlOutbox implements Outbox {
  private readonly driver: SqlDriver;
  constructor(driver: SqlDriver) {
    this.driver = driver;
  }

  add(entries: { endpoint: string; body: string; maxPending: number }[], now: number, options: { durable: boolean } = { durable: true }): string[] {
    // Pulls' events commit without a flush of their own (storage-layout.ts, "Durability"): every
    // pull, anyone's, would otherwise wait for the disk and hold the write lock while it does.
    const write = (body: () => string[]) => (options.durable || !this.driver.progress ? body() : this.driver.progress(body));
    return write(() => this.driver.transaction(() =>
      entries.flatMap((entry) => {
        // Counted up to the bound only (the endpoint index), in the same transaction as the insert.
        const added = this.driver.run(
          "INSERT INTO event_outbox (endpoint, body, next_at) SELECT ?, ?, ? WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM event_outbox WHERE endpoint = ? LIMIT ?)) < ?",
          entry.endpoint,
          entry.body,
          now,
          entry.endpoint,
          entry.maxPending,
          entry.maxPending,
        );
        return added ? [] : [entry.endpoint];
      }),
    ));
  }

  claimDue(owner: string, endpoint: string, now: number, claimUntil: number, limit: number): OutboxEntry[] {
    return this.driver.transaction(() => {
      const due = this.driver.all<OutboxEntry>(
        "SELECT id, endpoint, body, attempts FROM event_outbox WHERE endpoint = ? AND next_at <= ? AND claimed_until <= ? ORDER BY id LIMIT ?",
        endpoint,
        now,
        now,
        limit,
      );
      return due.filter((row) => this.driver.run("UPDATE event_outbox SET claimed_by = ?, claimed_until = ? WHERE id = ? AND claimed_until <= ?", owner, claimUntil, row.id, now));
    });
  }

  delivered(id: number): void {
    this.driver.run("DELETE FROM event_outbox WHERE id = ?", id);
  }

  retryAt(id: number, attempts: number, nextAt: number): void {
    this.driver.run("UPDATE event_outbox SET attempts = ?, next_at = ?, claimed_by = NULL, claimed_until = 0 WHERE id = ?", attempts, nextAt, id);
  }

  dropped(id: number): void {
    this.driver.run("DELETE FROM event_outbox WHERE id = ?", id);
  }

  dropOthers(endpoints: string[]): { endpoint: string; count: number }[] {
    const known = JSON.stringify(endpoints);
    return this.driver.transaction(() => {
      const counts = this.driver.all<{ endpoint: string; count: number }>(
        "SELECT endpoint, COUNT(*) AS count FROM event_outbox WHERE endpoint NOT IN (SELECT value FROM json_each(?)) GROUP BY endpoint",
        known,
      );
      if (counts.length > 0) this.driver.run("DELETE FROM event_outbox WHERE endpoint NOT IN (SELECT value FROM json_each(?))", known);
      return counts;
    });
  }
}

/**
 * Audit entries are written in batches (one transaction per FLUSH_MS or FLUSH_ROWS): a pull
 * must not pay a synchronous disk write of its own. A crash loses at most the last batch
 * here; the JSON line each entry also went to (stdout) is the record of it.
 *
 * Changes (push, delete, gc) and the rest (pulls, refusals) are kept AUDIT_ROWS each, apart:
 * anyone may send refused requests and anonymous pulls of public repositories as fast as they
 * like, and with one shared bound they would push the record of every change out of the table.
 */
const FLUSH_MS = 500;
const FLUSH_ROWS = 200;

export class SqlAuditStore implements AuditStore {
  #added = 0;
  #pending: AuditEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  private readonly driver: SqlDriver;
  constructor(driver: SqlDriver) {
    this.driver = driver;
  }

  add(entry: AuditEntry): void {
    this.#pending.push(entry);
    if (this.#pending.length >= FLUSH_ROWS) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.#timer.unref?.();
    }
  }

  /** Writes what is pending now (also before close). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.driver.transaction(() => {
      for (const entry of batch) {
        this.driver.run("INSERT INTO audit_log (repository, entry, change, at) VALUES (?, ?, ?, ?)", entry.repository ?? null, JSON.stringify(entry), isChange(entry) ? 1 : 0, entry.time);
      }
    });
    // Trimmed now and then, not on every write.
    this.#added += batch.length;
    if (this.#added >= 1000) {
      this.#added = 0;
      for (const change of [0, 1]) {
        this.driver.run("DELETE FROM audit_log WHERE change = ? AND id <= (SELECT id FROM audit_log WHERE change = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", change, change, AUDIT_ROWS);
      }
    }
  }

  recent(limit: number, filter: { repository?: string; changesOnly?: boolean } = {}): AuditEntry[] {
    this.flush();
    const where = [...(filter.repository ? ["repository = ?"] : []), ...(filter.changesOnly ? ["change = 1"] : [])];
    const rows = this.driver.all<{ entry: string }>(
      // Newest first by the entry's own time (ISO 8601 in UTC: text order is time order): each
      // process writes its batch when it flushes, so row order across processes is flush order,
      // not the order things happened in.
      `SELECT entry FROM audit_log ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT ?`,
      ...(filter.repository ? [filter.repository] : []),
      limit,
    );
    return rows.map((row) => JSON.parse(row.entry) as AuditEntry);
  }
}

/** A change made (push, delete of anything, a collection's), not a read or a refusal. */
function isChange(entry: AuditEntry): boolean {
  return entry.outcome === "ok" && entry.action !== "pull";
}
