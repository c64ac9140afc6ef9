import { DurableObject } from "cloudflare:workers";
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
 * Each registration gives the name a fresh random token; a repository deletion
 * removes the name only if its token is still the one the deleted repository
 * object held, so a push that registered again meanwhile keeps the name listed
 * (the argument: DurableObjectMetadataStore.deleteRepository).
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
  }

  /** Lists the name (again) under a fresh token, and answers the token. */
  register(name: string): string {
    const token = crypto.randomUUID();
    this.#driver.run("INSERT INTO repositories (name, token) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET token = excluded.token", name, token);
    return token;
  }

  /** Removes the name only if no registration came since the one that gave `token`; answers whether it did. */
  unregister(name: string, token: string | null): boolean {
    return this.#driver.run("DELETE FROM repositories WHERE name = ? AND token IS ?", name, token);
  }

  has(name: string): boolean {
    return this.#records.has(name);
  }

  list(page: Page): string[] {
    return this.#records.list(page);
  }
}
