/**
 * What token issuing must remember between requests, shared by every process or isolate that
 * serves one registry: failed logins counted per window (login-limits.ts) and refresh tokens
 * already exchanged (single use). A port: SQLite on Node (adapters/sql/auth-state-records.ts), a
 * Durable Object on Workers, DynamoDB on AWS; memory for one process and for tests.
 */
export interface AuthStateStore {
  /** Failures counted so far under each key in the window that started at `window` (ms). */
  failures(keys: string[], window: number): Promise<number[]>;
  /** Counts one more failure under each key in that window; kept until `expiresAt` (ms). */
  recordFailure(keys: string[], window: number, expiresAt: number): Promise<void>;
  /** Marks `id` used, kept until `expiresAt` (ms); false when it already was (in one atomic step). */
  useOnce(id: string, expiresAt: number): Promise<boolean>;
  /** Whether `id` was marked used (and has not expired). */
  wasUsed(id: string): Promise<boolean>;
}

/** One process's memory: bounds hold per process only (Node with PROCESSES=1, tests). */
export class MemoryAuthState implements AuthStateStore {
  readonly #failures = new Map<string, { count: number; expiresAt: number }>();
  readonly #used = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async failures(keys: string[], window: number): Promise<number[]> {
    return keys.map((key) => this.#failures.get(`${window}/${key}`)?.count ?? 0);
  }

  async recordFailure(keys: string[], window: number, expiresAt: number): Promise<void> {
    this.#forgetExpired();
    for (const key of keys) {
      const entry = this.#failures.get(`${window}/${key}`) ?? { count: 0, expiresAt };
      entry.count++;
      this.#failures.set(`${window}/${key}`, entry);
    }
  }

  async useOnce(id: string, expiresAt: number): Promise<boolean> {
    this.#forgetExpired();
    if (this.#used.has(id)) return false;
    this.#used.set(id, expiresAt);
    return true;
  }

  async wasUsed(id: string): Promise<boolean> {
    return (this.#used.get(id) ?? 0) > this.#now();
  }

  #forgetExpired(): void {
    const now = this.#now();
    for (const [key, entry] of this.#failures) if (entry.expiresAt <= now) this.#failures.delete(key);
    for (const [id, expiresAt] of this.#used) if (expiresAt <= now) this.#used.delete(id);
  }
}
