/**
 * Operator endpoints, outside /v2/ (not part of the distribution spec): usage of every
 * repository and a garbage collection run now. With token auth they need `registry:admin:*`,
 * which only a policy rule with `admin: true` grants to a signed-in identity (docs/auth.md).
 *
 *   GET  /admin/usage               bytes per repository, namespace and overall (JSON)
 *   POST /admin/gc[?dry-run=true]   retention rules, then garbage collection; the report (JSON)
 */
import type { Hono } from "hono";
import { RegistryError } from "../../core/errors.ts";

/** What a runtime can do for its operators; each runtime supplies its stores' versions. */
export interface Maintenance {
  usage(): Promise<unknown>;
  collect(options: { dryRun: boolean }): Promise<unknown>;
}

export function adminRoutes(app: Hono, maintenance: Maintenance | undefined): void {
  const unavailable = () => {
    throw new RegistryError("UNSUPPORTED", "this deployment has no maintenance endpoints configured", { status: 404 });
  };
  app.on(["GET", "HEAD"], "/admin/usage", async (c) => (maintenance ? c.json(await maintenance.usage()) : unavailable()));
  app.post("/admin/gc", async (c) => {
    if (!maintenance) return unavailable();
    const dryRun = ["true", "1"].includes(c.req.query("dry-run") ?? "");
    return c.json(await maintenance.collect({ dryRun }));
  });
}
