/**
 * The observability pieces on their own: log levels and formats, the repository and route
 * a record names, the EMF line CloudWatch reads, the new settings' validation, who may read
 * /metrics, and a failing handler logged under the id its answer quotes.
 *
 *   npx vitest run test/unit/observability.test.ts
 */
import { describe, expect, it } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { ConfigError, resolveConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { repositoryOf } from "../../src/http/observe.ts";
import { embeddedMetricLine, EMF_NAMESPACE } from "../../src/observability/embedded-metrics.ts";
import { createLogger, type LogLevel } from "../../src/observability/log.ts";
import type { RequestRecord } from "../../src/observability/requests.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const stores = () => ({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE });

function capture(level: LogLevel, format: "json" | "text") {
  const lines: string[] = [];
  const logger = createLogger({ level, format, write: (line) => lines.push(line), now: () => new Date("2026-01-02T03:04:05.000Z") });
  return { logger, lines };
}

describe("the logger", () => {
  it("drops lines below its level and writes one JSON object per line", () => {
    const { logger, lines } = capture("warn", "json");
    logger.log("info", "dropped");
    logger.log("error", "kept", { requestId: "r1", status: 500, nothing: undefined });
    expect(lines).toEqual(['{"time":"2026-01-02T03:04:05.000Z","level":"error","msg":"kept","requestId":"r1","status":500}']);
  });

  it("writes one readable line at a terminal, quoting values with spaces", () => {
    const { logger, lines } = capture("debug", "text");
    logger.log("info", "request", { method: "GET", route: "/v2/:name{.+}/tags/list", identity: "user:alice", reason: "two words" });
    expect(lines).toEqual(['2026-01-02T03:04:05.000Z INFO  request method=GET route=/v2/:name{.+}/tags/list identity=user:alice reason="two words"']);
  });
});

describe("what a request record names", () => {
  it("takes <name> from the path by the route pattern's segments, names with slashes included", () => {
    expect(repositoryOf("/v2/a/b/c/blobs/uploads/", "/v2/:name{.+}/blobs/uploads/")).toBe("a/b/c");
    expect(repositoryOf("/v2/team/blobs/app/manifests/v1", "/v2/:name{.+}/manifests/:reference")).toBe("team/blobs/app");
    expect(repositoryOf("/v2/x/blobs/uploads/123", "/v2/:name{.+}/blobs/uploads/:id")).toBe("x");
    expect(repositoryOf("/admin/repositories/team/app", "/admin/repositories/:name{.+}")).toBe("team/app");
    expect(repositoryOf("/v2/_catalog", "/v2/_catalog")).toBeUndefined();
  });
});

describe("CloudWatch Embedded Metric Format (Lambda)", () => {
  it("declares every metric it carries, in the OciRegistry namespace, by route and by route and status", () => {
    const record: RequestRecord = { requestId: "r", method: "GET", route: "/token", status: 401, bytesIn: 0, bytesOut: 90, durationMs: 3.5 };
    const line = JSON.parse(embeddedMetricLine(record, 1700000000000)) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    const directive = line._aws.CloudWatchMetrics[0]!;
    expect(line._aws.Timestamp).toBe(1700000000000);
    expect(directive.Namespace).toBe(EMF_NAMESPACE);
    expect(directive.Dimensions).toEqual([["Route"], ["Route", "Status"]]);
    for (const metric of directive.Metrics) expect(typeof line[metric.Name]).toBe("number");
    for (const dimension of directive.Dimensions.flat()) expect(typeof line[dimension]).toBe("string");
    expect(line).toMatchObject({ Route: "/token", Status: "401", Requests: 1, Latency: 3.5, BytesOut: 90, AuthFailures: 1 });
  });
});

describe("the observability settings", () => {
  const problems = (env: Record<string, string>): string => {
    try {
      resolveConfig({}, env);
      return "";
    } catch (error) {
      return (error as ConfigError).message;
    }
  };

  it("reports a wrong log level or format, a short metrics token (without echoing it), and half a TLS pair, all at once", () => {
    const message = problems({ LOG_LEVEL: "loud", LOG_FORMAT: "xml", METRICS_TOKEN: "short-secret", TLS_CERT: "/etc/cert.pem" });
    expect(message).toContain("logLevel (env LOG_LEVEL) must be one of debug, info, warn, error");
    expect(message).toContain("logFormat (env LOG_FORMAT) must be auto, json or text");
    expect(message).toContain("metricsToken (env METRICS_TOKEN) must be at least 16 printable characters");
    expect(message).not.toContain("short-secret");
    expect(message).toContain("tlsCert (TLS_CERT) and tlsKey (TLS_KEY) go together");
  });

  it("accepts them set right", () => {
    const config = resolveConfig({ logLevel: "debug" }, { LOG_FORMAT: "text", METRICS_TOKEN: "0123456789abcdef!", TLS_CERT: "/c.pem", TLS_KEY: "/k.pem" });
    expect(config).toMatchObject({ logLevel: "debug", logFormat: "text", metricsToken: "0123456789abcdef!", tlsCert: "/c.pem", tlsKey: "/k.pem" });
  });
});

describe("GET /metrics", () => {
  const render = async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", text: "# TYPE x counter\nx 1\n" });

  it("is refused with 403 naming metricsToken on a registry with auth and no token set, whatever the caller sends", async () => {
    const auth = await buildAuth({ service: "s", users: {}, signingKeys: [{ jwk: await generateSigningJwk() }] });
    const app = createApp(stores(), { auth, metrics: { render, open: false } });
    const res = await app.request("/metrics", { headers: { authorization: "Bearer anything-at-all-0123" } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("METRICS_TOKEN");
  });

  it("is open on a registry without auth, and needs the exact token once one is set", async () => {
    expect((await createApp(stores(), { metrics: { render, open: true } }).request("/metrics")).status).toBe(200);
    const guarded = createApp(stores(), { metrics: { render, open: true, token: "0123456789abcdef" } });
    expect((await guarded.request("/metrics")).status).toBe(401);
    expect((await guarded.request("/metrics", { headers: { authorization: "Bearer 0123456789abcdeX" } })).status).toBe(401);
    expect((await guarded.request("/metrics", { headers: { authorization: "Bearer 0123456789abcdef0" } })).status).toBe(401);
    const ok = await guarded.request("/metrics", { headers: { authorization: "Bearer 0123456789abcdef" } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("# TYPE x counter\nx 1\n");
  });
});

describe("an internal error", () => {
  it("answers 500 quoting the request id, and logs the stack under that id", async () => {
    const { logger, lines } = capture("info", "json");
    const metadata = new MemoryMetadataStore();
    metadata.listRepositories = async () => {
      throw new Error("disk on fire");
    };
    const app = createApp({ ...stores(), metadata }, { observation: { logger } });
    const res = await app.request("/v2/_catalog");
    expect(res.status).toBe(500);
    const id = res.headers.get("x-request-id")!;
    expect(await res.text()).toContain(`quote request id ${id}`);
    const failure = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request failed");
    expect(failure).toMatchObject({ level: "error", requestId: id, method: "GET", path: "/v2/_catalog" });
    expect(String(failure!.error)).toContain("disk on fire");
    expect(lines.some((l) => l.includes(`"msg":"request"`) && l.includes(`"status":500`) && l.includes(id))).toBe(true);
  });
});
