/**
 * The auth state (auth/auth-state.ts) in SQL, shared by Node's SQLite file (every process of one
 * DATA_DIR sees the same counts) and the Workers' AuthStateObject. Synchronous like the driver:
 * a count and its increment, or a check and its mark, are one statement, so racing requests
 * cannot both pass.
 */
import type { SqlDriver } from "./driver.ts";

export const AUTH_STATE_TABLES = `
CREATE TABLE IF NOT EXISTS login_failures (
  key TEXT NOT NULL,
  window INTEGER NOT NULL,
  count INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (key, window)
);
CREATE TABLE IF NOT EXISTS used_tokens (
  id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);`;

export class AuthStateRecords {
  readonly #driver: SqlDriver;
  readonly #now: () => number;

  constructor(driver: SqlDriver, now: () => number = Date.now) {
    this.#driver = driver;
    this.#now = now;
    driver.exec(AUTH_STATE_TABLES);
  }

  failures(keys: string[], window: number): number[] {
    return keys.map((key) => this.#driver.all<{ count: number }>("SELECT count FROM login_failures WHERE key = ? AND window = ?", key, window)[0]?.count ?? 0);
  }

  recordFailure(keys: string[], window: number, expiresAt: number): void {
    this.#driver.transaction(() => {
      for (const key of keys) {
        this.#driver.run(
          "INSERT INTO login_failures (key, window, count, expires_at) VALUES (?, ?, 1, ?) ON CONFLICT (key, window) DO UPDATE SET count = count + 1",
          key,
          window,
          expiresAt,
        );
      }
      // Old windows go a few at a time, so no request pays for a large clean-up.
      this.#driver.run("DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE expires_at <= ? LIMIT 50)", this.#now());
    });
  }

  wasUsed(id: string): boolean {
    return this.#driver.all("SELECT 1 FROM used_tokens WHERE id = ? AND expires_at > ?", id, this.#now()).length > 0;
  }

  useOnce(id: string, expiresAt: number): boolean {
    return this.#driver.transaction(() => {
      this.#driver.run("DELETE FROM used_tokens WHERE rowid IN (SELECT rowid FROM used_tokens WHERE expires_at <= ? LIMIT 50)", this.#now());
      return this.#driver.run("INSERT INTO used_tokens (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, expiresAt);
    });
  }
}
