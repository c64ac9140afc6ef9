import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqlDriver, SqlValue } from "../sql/driver.ts";

export interface NodeSqliteOptions {
  /** How long a write waits for another process's transaction before failing, in ms. */
  busyTimeoutMs?: number;
}

/**
 * The SQL driver on `node:sqlite` (ships with Node ≥ 22.13, no native
 * build step, and synchronous like a Durable Object's storage.sql, which is
 * what lets the two share records.ts). One database file in WAL mode:
 * readers never wait for writers, and several processes may open it; a
 * write transaction starts with BEGIN IMMEDIATE so two processes' writes
 * queue on SQLite's lock (busy_timeout) instead of failing half-way.
 * synchronous=FULL: a change is on disk before the request that made it is
 * answered; except upload progress (`progress`), written with synchronous=NORMAL
 * (core/storage-layout.ts, "Durability", has the argument).
 */
export class NodeSqliteDriver implements SqlDriver {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #depth = 0;

  constructor(path: string, options: NodeSqliteOptions = {}) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 10_000)}`);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA foreign_keys = OFF");
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  all<Row>(sql: string, ...params: SqlValue[]): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  run(sql: string, ...params: SqlValue[]): boolean {
    return Number(this.#statement(sql).run(...params).changes) > 0;
  }

  transaction<T>(body: () => T): T {
    if (this.#depth > 0) return body();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#depth++;
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#depth--;
    }
  }

  /**
   * `body` with synchronous=NORMAL, then FULL again. In WAL mode NORMAL skips the commit's
   * flush of the log: a process crash loses nothing (the log is in the OS's cache), an OS crash
   * may lose this commit and any NORMAL ones after the last flushed commit, never a FULL one or
   * what came before it (the log is replayed in order up to the last whole commit). The pragma
   * is per connection and this driver is synchronous, so no other write runs in between; inside
   * a transaction it cannot change, and the write takes the transaction's durability.
   */
  progress<T>(body: () => T): T {
    if (this.#depth > 0 || this.#db.isTransaction) return body();
    this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      return body();
    } finally {
      this.#db.exec("PRAGMA synchronous = FULL");
    }
  }

  /** The connection's `PRAGMA synchronous`: 2 (FULL) between writes. */
  synchronous(): number {
    return this.all<{ synchronous: number }>("PRAGMA synchronous")[0]?.synchronous ?? -1;
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
