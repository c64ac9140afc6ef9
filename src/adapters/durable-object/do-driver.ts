import type { SqlDriver, SqlValue } from "../sql/driver.ts";

/** The SQL driver on a SQLite-backed Durable Object's storage (see sql/driver.ts). */
export class DurableObjectSqlDriver implements SqlDriver {
  readonly #storage: DurableObjectStorage;
  #depth = 0;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  exec(sql: string): void {
    this.#storage.sql.exec(sql);
  }

  all<Row>(sql: string, ...params: SqlValue[]): Row[] {
    return this.#storage.sql.exec(sql, ...params).toArray() as Row[];
  }

  run(sql: string, ...params: SqlValue[]): boolean {
    return this.#storage.sql.exec(sql, ...params).rowsWritten > 0;
  }

  transaction<T>(body: () => T): T {
    if (this.#depth > 0) return body();
    this.#depth++;
    try {
      return this.#storage.transactionSync(body);
    } finally {
      this.#depth--;
    }
  }
}
