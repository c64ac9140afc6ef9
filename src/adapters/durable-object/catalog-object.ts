import { DurableObject } from "cloudflare:workers";
import type { Page } from "../../ports/metadata-store.ts";
import { CatalogRecords } from "../sql/records.ts";
import { CATALOG_TABLES } from "../sql/schema.ts";
import { DurableObjectSqlDriver } from "./do-driver.ts";

/**
 * The catalog: every registered repository's name, in one object, so the
 * listing is one ordered query (sql/records.ts). It is written once per
 * repository (each repository object remembers that it is registered), so
 * one object is not a bottleneck for pushes.
 */
export class CatalogObject extends DurableObject<unknown> {
  readonly #records: CatalogRecords;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const driver = new DurableObjectSqlDriver(ctx.storage);
    driver.exec(CATALOG_TABLES);
    this.#records = new CatalogRecords(driver);
  }

  register(name: string): void {
    this.#records.register(name);
  }

  list(page: Page): string[] {
    return this.#records.list(page);
  }
}
