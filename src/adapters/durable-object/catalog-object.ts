import { DurableObject } from "cloudflare:workers";
import type { Page } from "../../ports/metadata-store.ts";

/**
 * The catalog: every registered repository's name, in one object, so the
 * listing is one ordered query. It is written once per repository (each
 * repository object remembers that it is registered), so one object is
 * not a bottleneck for pushes.
 */
export class CatalogObject extends DurableObject<unknown> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec("CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY)");
  }

  register(name: string): void {
    this.#sql.exec("INSERT OR IGNORE INTO repositories (name) VALUES (?)", name);
  }

  /** BINARY collation compares UTF-8 bytes: code-point order, as the spec's listings want. */
  list(page: Page): string[] {
    return this.#sql
      .exec<{ name: string }>("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", page.after ?? "", page.limit ?? -1)
      .toArray()
      .map((row) => row.name);
  }
}
