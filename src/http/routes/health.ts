/**
 * Probes for orchestrators and load balancers, never behind auth:
 *   GET /healthz  200 while the process serves requests (liveness: restart it when this fails)
 *   GET /readyz   200 when blob storage and metadata answer a read within the probe's
 *                 timeout, else 503 with which one failed (readiness: send no traffic)
 * Their bodies name no repository, path, host or configuration value.
 */
import type { Hono } from "hono";
import type { Logger } from "../../observability/log.ts";
import type { ReadinessProbe } from "../../observability/readiness.ts";

export function healthRoutes(app: Hono, readiness: ReadinessProbe | undefined, logger: Logger): void {
  const noStore = { "Cache-Control": "no-store" };
  app.on(["GET", "HEAD"], "/healthz", (c) => c.json({ status: "ok" }, 200, noStore));
  app.on(["GET", "HEAD"], "/readyz", async (c) => {
    if (!readiness) return c.json({ status: "ok" }, 200, noStore);
    const report = await readiness();
    const checks = Object.fromEntries(
      Object.entries(report.checks).map(([name, check]) => [name, check.ok ? { ok: true, ms: check.ms } : { ok: false, ms: check.ms, reason: check.reason }]),
    );
    if (!report.ready) {
      for (const [name, check] of Object.entries(report.checks)) {
        if (!check.ok) logger.log("warn", `readiness: ${name} storage is not reachable`, { check: name, reason: check.reason, detail: check.detail });
      }
    }
    return c.json({ status: report.ready ? "ok" : "unavailable", checks }, report.ready ? 200 : 503, noStore);
  });
}
