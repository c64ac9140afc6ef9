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
 * answered, like the blob files, which are flushed before they are renamed.
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
