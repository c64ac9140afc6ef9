import { join } from "node:path";
import type { AuthStateStore } from "../../auth/auth-state.ts";
import { AuthStateRecords } from "../sql/auth-state-records.ts";
import { NodeSqliteDriver } from "./node-driver.ts";
import { DATABASE_FILE } from "./open.ts";

/**
 * The auth state in DATA_DIR's SQLite database: every process of one `npm start` (and every
 * registry started on the same DATA_DIR) counts failed logins and used refresh tokens together.
 */
export class SqliteAuthState implements AuthStateStore {
  readonly #path: string;
  #opened: { driver: NodeSqliteDriver; records: AuthStateRecords } | null = null;

  /** Opens the database on first use: auth is built before start-up has prepared DATA_DIR. */
  constructor(dataDir: string) {
    this.#path = join(dataDir, DATABASE_FILE);
  }

  async failures(keys: string[], window: number): Promise<number[]> {
    return this.#records().failures(keys, window);
  }

  async recordFailure(keys: string[], window: number, expiresAt: number): Promise<void> {
    this.#records().recordFailure(keys, window, expiresAt);
  }

  async useOnce(id: string, expiresAt: number): Promise<boolean> {
    return this.#records().useOnce(id, expiresAt);
  }

  async wasUsed(id: string): Promise<boolean> {
    return this.#records().wasUsed(id);
  }

  close(): void {
    this.#opened?.driver.close();
    this.#opened = null;
  }

  #records(): AuthStateRecords {
    if (!this.#opened) {
      const driver = new NodeSqliteDriver(this.#path);
      this.#opened = { driver, records: new AuthStateRecords(driver) };
    }
    return this.#opened.records;
  }
}
