import { DurableObject } from "cloudflare:workers";
import type { AuthStateStore } from "../../auth/auth-state.ts";
import { AuthStateRecords } from "../sql/auth-state-records.ts";
import { DurableObjectSqlDriver } from "./do-driver.ts";

/**
 * The auth state of a Worker deployment (failed logins per window, used refresh tokens) in one
 * Durable Object, so every isolate everywhere counts together: per-isolate memory would let a
 * guesser spread over isolates multiply the limit. Only logins with credentials and refresh
 * rotations reach it, a few per client session, well within one object's capacity.
 */
export class AuthStateObject extends DurableObject<unknown> {
  readonly #records: AuthStateRecords;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#records = new AuthStateRecords(new DurableObjectSqlDriver(ctx.storage));
  }

  failures(keys: string[], window: number): number[] {
    return this.#records.failures(keys, window);
  }

  recordFailure(keys: string[], window: number, expiresAt: number): void {
    this.#records.recordFailure(keys, window, expiresAt);
  }

  useOnce(id: string, expiresAt: number): boolean {
    return this.#records.useOnce(id, expiresAt);
  }

  wasUsed(id: string): boolean {
    return this.#records.wasUsed(id);
  }
}

/** The AuthStateStore port over the one AuthStateObject. */
export class DurableObjectAuthState implements AuthStateStore {
  readonly #namespace: DurableObjectNamespace<AuthStateObject>;

  constructor(namespace: DurableObjectNamespace<AuthStateObject>) {
    this.#namespace = namespace;
  }

  async failures(keys: string[], window: number): Promise<number[]> {
    return this.#object().failures(keys, window);
  }

  async recordFailure(keys: string[], window: number, expiresAt: number): Promise<void> {
    await this.#object().recordFailure(keys, window, expiresAt);
  }

  async useOnce(id: string, expiresAt: number): Promise<boolean> {
    return this.#object().useOnce(id, expiresAt);
  }

  async wasUsed(id: string): Promise<boolean> {
    return this.#object().wasUsed(id);
  }

  #object() {
    return this.#namespace.getByName("auth-state");
  }
}
