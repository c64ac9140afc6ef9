/**
 * Operator endpoints, outside /v2/ (not part of the distribution spec): usage of every
 * repository and a garbage collection run now. With token auth they need `registry:admin:*`,
 * which only a policy rule with `admin: true` grants to a signed-in identity (docs/auth.md).
 *
 *   GET  /admin/usage               bytes per repository, namespace and overall (JSON)
 *   POST /admin/gc[?dry-run=true]   retention rules, then garbage collection; the report (JSON)
 *   GET  /admin/audit[?repository=&limit=&changes=true]  the latest audit entries, newest first
 *                                   (Node); changes=true: pushes and deletes only, no pulls or refusals
 *   DELETE /admin/repositories/<name>  every manifest, tag, link and upload of the repository;
 *                                   its blobs are collected by the next run
 */
import type { Hono } from "hono";
import { RegistryError } from "../../core/errors.ts";
import { isRepositoryName } from "../../core/names.ts";
import type { AuditStore } from "../../observability/events/outbox.ts";

/** What a runtime can do for its operators; each runtime supplies its stores' versions. */
export interface Maintenance {
  usage(): Promise<unknown>;
  collect(options: { dryRun: boolean }): Promise<unknown>;
  /** Null: no such repository. Absent: this backend cannot delete a repository at once. */
  deleteRepository?(repository: string): Promise<unknown | null>;
  /** The audit log's latest entries (Node: SQLite); absent: GET /admin/audit answers 404. */
  audit?: AuditStore;
}

export function adminRoutes(app: Hono, maintenance: Maintenance | undefined): void {
  const unavailable = () => {
    throw new RegistryError("UNSUPPORTED", "this deployment has no maintenance endpoints configured", { status: 404 });
  };
  app.on(["GET", "HEAD"], "/admin/usage", async (c) => (maintenance ? c.json(await maintenance.usage()) : unavailable()));
  app.on(["GET", "HEAD"], "/admin/audit", (c) => {
    if (!maintenance?.audit) return unavailable();
    const limit = Number(c.req.query("limit") ?? 100);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new RegistryError("UNSUPPORTED", "limit must be a whole number from 1 to 1000", { status: 400 });
    const repository = c.req.query("repository");
    const changes = c.req.query("changes");
    if (changes !== undefined && changes !== "true" && changes !== "false") throw new RegistryError("UNSUPPORTED", "changes must be true or false", { status: 400 });
    return c.json({ entries: maintenance.audit.recent(limit, { ...(repository ? { repository } : {}), changesOnly: changes === "true" }) });
  });
  app.post("/admin/gc", async (c) => {
    if (!maintenance) return unavailable();
    const dryRun = ["true", "1"].includes(c.req.query("dry-run") ?? "");
    return c.json(await maintenance.collect({ dryRun }));
  });
  app.delete("/admin/repositories/:name{.+}", async (c) => {
    const name = c.req.param("name");
    if (!isRepositoryName(name)) throw new RegistryError("NAME_INVALID", `"${name.slice(0, 200)}" is not a repository name`);
    if (!maintenance?.deleteRepository) {
      throw new RegistryError("UNSUPPORTED", "this backend cannot delete a whole repository yet (local disk can); delete its manifests instead", { status: 405 });
    }
    const deleted = await maintenance.deleteRepository(name);
    if (!deleted) throw new RegistryError("NAME_UNKNOWN", `repository ${name} is not in the catalog`);
    return c.json(deleted);
  });
}
