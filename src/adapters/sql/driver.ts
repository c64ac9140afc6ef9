/**
 * The tiny interface the shared SQL metadata rules (this folder) run on: a
 * synchronous SQLite connection. Two implementations: `node:sqlite` on Node
 * (adapters/sqlite/node-driver.ts) and a Durable Object's `ctx.storage.sql`
 * (adapters/durable-object/do-driver.ts). Both are synchronous, so a
 * transaction never spans an `await`: nothing else runs inside it.
 */
export type SqlValue = string | number | null;

export interface SqlDriver {
  /** Runs statements with no parameters (the schema). */
  exec(sql: string): void;
  /** The rows a query answers, as plain objects keyed by column name. */
  all<Row>(sql: string, ...params: SqlValue[]): Row[];
  /** Runs a statement; answers whether it changed at least one row. */
  run(sql: string, ...params: SqlValue[]): boolean;
  /**
   * Runs `body` in one transaction: committed when it returns, rolled back
   * when it throws. Calls inside a transaction join it.
   */
  transaction<T>(body: () => T): T;
  /**
   * Runs `body`, a write that only records an upload's progress (or a pull's event), with the
   * durability core/storage-layout.ts ("Durability") allows it: a driver may let an OS crash lose it
   * (never a process crash, never a later write without it). Without this method, or
   * inside a transaction, it is an ordinary write.
   */
  progress?<T>(body: () => T): T;
}

export function first<Row>(rows: Row[]): Row | null {
  return rows[0] ?? null;
}
