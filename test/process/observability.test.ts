/**
 * Operating the real server process (`node src/runtime/node.ts`, two processes, token auth):
 * health probes without a token, one JSON log line per request with an id the answer
 * carries and no secret, a client hanging up mid-push logged as such (not as a failure),
 * Prometheus metrics summed over both processes and parsed strictly, and SIGHUP reloading
 * users (a bad file refused, the old users and tokens kept), rotating signing keys and rules.
 *
 *   npx vitest run test/process/observability.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, rename, writeFile, mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JWK } from "jose";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { parsePrometheusText, total } from "../support/prometheus-text.ts";
import { AnswerLog, request, type RegistryProcess, sha256, sleep, startRegistry } from "./server.ts";

const METRICS_TOKEN = "scrape-token-0123456789abcdef";
const SERVICE = "observability-test";

async function authFile(path: string, users: Record<string, string>): Promise<void> {
  const entries: Record<string, { password: string; teams: string[] }> = {};
  for (const [name, password] of Object.entries(users)) entries[name] = { password: await hashPassword(password), teams: ["blue"] };
  const config = { service: SERVICE, users: entries, rules: [{ teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] }] };
  // Written beside and renamed: a reload never reads half a file.
  await writeFile(`${path}.new`, JSON.stringify(config));
  await rename(`${path}.new`, path);
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

async function token(registry: RegistryProcess, user: string, password: string, scope = "repository:blue/app:pull,push"): Promise<{ status: number; token?: string }> {
  const res = await request(registry.url, "GET", `/token?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic(user, password) } });
  return { status: res.status, ...(res.status === 200 ? { token: (JSON.parse(res.text()) as { token: string }).token } : {}) };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("operating npm start (PROCESSES=2, token auth)", () => {
  let dir = "";
  let authPath = "";
  let registry: RegistryProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-observe-"));
    authPath = join(dir, "auth.json");
    await authFile(authPath, { alice: "alice-secret-pw" });
    registry = await startRegistry({
      dataDir: join(dir, "data"),
      processes: 2,
      readyPath: "/healthz",
      env: { AUTH_CONFIG_FILE: authPath, METRICS_TOKEN, LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" },
    });
    // Both workers up before the suite counts on either.
    await waitFor("both workers", async () => (registry.processIds().length >= 3 ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers /healthz and /readyz 200 without a token while /v2/ asks for one", async () => {
    expect((await request(registry.url, "GET", "/v2/")).status).toBe(401);
    const health = await request(registry.url, "GET", "/healthz");
    expect(health.status).toBe(200);
    const ready = await request(registry.url, "GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text())).toMatchObject({ status: "ok", checks: { blobs: { ok: true }, metadata: { ok: true } } });
  });

  it("writes one JSON line per request with route, repository, status, bytes, duration and identity, under the id the answer carries", async () => {
    const { token: bearer } = await token(registry, "alice", "alice-secret-pw");
    expect(bearer).toBeDefined();
    const layer = Buffer.from("a layer for the request log");
    const push = await request(registry.url, "POST", `/v2/blue/app/blobs/uploads/?digest=${sha256(layer)}`, {
      body: layer,
      headers: { authorization: `Bearer ${bearer!}`, "content-type": "application/octet-stream" },
    });
    expect(push.status).toBe(201);
    const id = push.header("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = await waitFor("the push's log line", async () => jsonLines(registry.output()).find((l) => l.requestId === id));
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      method: "POST",
      route: "/v2/:name{.+}/blobs/uploads/",
      repository: "blue/app",
      status: 201,
      bytesIn: layer.length,
      identity: "user:alice",
    });
    expect(typeof line.durationMs).toBe("number");
    expect(typeof line.time).toBe("string");
    // Never a secret: not the password, not the token, not the Authorization header.
    expect(registry.output()).not.toContain("alice-secret-pw");
    expect(registry.output()).not.toContain(bearer!);
    expect(registry.output()).not.toContain(Buffer.from("alice:alice-secret-pw").toString("base64"));
  });

  it("keeps a proxy's X-Request-Id when it is plain, and replaces one that is not", async () => {
    const kept = await request(registry.url, "GET", "/healthz", { headers: { "x-request-id": "edge-42.abc" } });
    expect(kept.header("x-request-id")).toBe("edge-42.abc");
    const replaced = await request(registry.url, "GET", "/healthz", { headers: { "x-request-id": "bad id with spaces" } });
    expect(replaced.header("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs a client that hangs up mid-PATCH as a closed connection, with no failure or stack", async () => {
    const { token: bearer } = await token(registry, "alice", "alice-secret-pw");
    const start = await request(registry.url, "POST", "/v2/blue/app/blobs/uploads/", { headers: { authorization: `Bearer ${bearer!}` } });
    expect(start.status).toBe(202);
    const location = new URL(start.header("location")!, registry.url);
    const before = registry.output().length;
    const socket = connect(Number(new URL(registry.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bearer!}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(512 * 1024, 7));
    await sleep(300);
    socket.destroy();
    const closed = await waitFor("the hang-up's log line", async () => {
      const lines = jsonLines(registry.output().slice(before));
      return lines.find((l) => l.msg === "client closed the connection mid-request") ?? lines.find((l) => l.msg === "request" && l.clientGone === true);
    });
    expect(closed.level).toBe("info");
    await sleep(300);
    const after = registry.output().slice(before);
    expect(after).not.toContain('"level":"error"');
    expect(after).not.toMatch(/\n\s+at /);
  });

  it("serves Prometheus text only with the metrics token, summed over both processes, and parsed strictly", async () => {
    expect((await request(registry.url, "GET", "/metrics")).status).toBe(401);
    expect((await request(registry.url, "GET", "/metrics", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
    const scrape = async () => {
      const res = await request(registry.url, "GET", "/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.status).toBe(200);
      expect(res.header("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      return { text: res.text(), families: parsePrometheusText(res.text()) };
    };
    const first = await scrape();
    const healthBefore = total(first.families, "registry_http_requests_total", { route: "/healthz" });
    // Fresh connections: node:cluster hands them to both workers.
    for (let i = 0; i < 8; i++) await request(registry.url, "GET", "/healthz");
    expect((await token(registry, "alice", "wrong-password")).status).toBe(401);
    const { token: bearer } = await token(registry, "alice", "alice-secret-pw");
    const layer = Buffer.alloc(100_000, 3);
    const digest = sha256(layer);
    const auth = { authorization: `Bearer ${bearer!}` };
    expect((await request(registry.url, "POST", `/v2/blue/app/blobs/uploads/?digest=${digest}`, { body: layer, headers: auth })).status).toBe(201);
    expect((await request(registry.url, "GET", `/v2/blue/app/blobs/${digest}`, { headers: auth })).status).toBe(200);

    const { text, families } = await scrape();
    expect(total(families, "registry_http_requests_total", { route: "/healthz", status: "200" })).toBeGreaterThanOrEqual(healthBefore + 8);
    expect(total(families, "registry_pushed_bytes_total")).toBeGreaterThanOrEqual(layer.length);
    expect(total(families, "registry_pulled_bytes_total")).toBeGreaterThanOrEqual(layer.length);
    expect(total(families, "registry_auth_attempts_total", { outcome: "failure" })).toBeGreaterThanOrEqual(1);
    expect(total(families, "registry_auth_attempts_total", { outcome: "success" })).toBeGreaterThanOrEqual(1);
    expect(families.get("registry_http_request_duration_seconds")?.type).toBe("histogram");
    expect(families.get("registry_uploads_in_progress")?.type).toBe("gauge");
    expect(families.get("registry_gc_runs_total")?.type).toBe("counter");
    // Summed across the cluster: a process-level metric has one sample per... total, not per worker; the
    // request count above can only reach +8 if both workers' counters are added (each saw some of the 8).
    expect(text).not.toContain("blue/app");
  });

  it("reloads users on SIGHUP without a restart; refuses a broken file and keeps the old users and tokens", async () => {
    const before = await token(registry, "alice", "alice-secret-pw");
    expect(before.status).toBe(200);
    expect((await token(registry, "bob", "bob-secret-pw")).status).toBe(401);

    await authFile(authPath, { alice: "alice-secret-pw", bob: "bob-secret-pw" });
    process.kill(registry.pid, "SIGHUP");
    // Each fresh connection may reach either worker: several successes in a row mean both reloaded.
    await waitFor("bob logging in on every process", async () => {
      for (let i = 0; i < 6; i++) if ((await token(registry, "bob", "bob-secret-pw")).status !== 200) return undefined;
      return true;
    });
    // The throwaway signing key is kept across the reload: a token issued before it still works.
    expect((await request(registry.url, "GET", "/v2/", { headers: { authorization: `Bearer ${before.token!}` } })).status).toBe(200);

    const outputBefore = registry.output().length;
    await writeFile(authPath, '{"service": "observability-test", "users": {');
    process.kill(registry.pid, "SIGHUP");
    const refusal = await waitFor("the refusal", async () => jsonLines(registry.output().slice(outputBefore)).find((l) => String(l.msg).startsWith("configuration reload refused")));
    expect(refusal.level).toBe("error");
    expect(String(refusal.msg)).toContain("AUTH_CONFIG");
    for (let i = 0; i < 4; i++) {
      expect((await token(registry, "alice", "alice-secret-pw")).status).toBe(200);
      expect((await token(registry, "bob", "bob-secret-pw")).status).toBe(200);
    }
    expect(registry.exited).toBe(false);
  });

  it("answers /readyz 503 with the failing store when the blob directory is gone", async () => {
    const blobs = join(dir, "data", "blobs");
    await rename(blobs, `${blobs}.away`);
    await writeFile(blobs, "not a directory");
    try {
      const res = await request(registry.url, "GET", "/readyz");
      expect(res.status).toBe(503);
      const body = JSON.parse(res.text()) as { status: string; checks: { blobs: { ok: boolean; reason?: string }; metadata: { ok: boolean } } };
      expect(body.status).toBe("unavailable");
      expect(body.checks.blobs.ok).toBe(false);
      expect(body.checks.blobs.reason).toMatch(/unreachable/);
      expect(body.checks.metadata.ok).toBe(true);
      // The path stays in the log, out of an unauthenticated answer.
      expect(res.text()).not.toContain(dir);
      expect((await request(registry.url, "GET", "/healthz")).status).toBe(200);
    } finally {
      await rm(blobs, { force: true });
      await rename(`${blobs}.away`, blobs);
      await mkdir(blobs, { recursive: true });
    }
  });
});

describe("rotating signing keys and changing rules with SIGHUP (PROCESSES=2, docs/auth.md)", () => {
  let dir = "";
  let authPath = "";
  let registry: RegistryProcess;
  const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
  const status = async (path: string, jwt: string) => (await request(registry.url, "GET", path, { headers: { authorization: `Bearer ${jwt}` } })).status;
  /** Several fresh connections in a row agree: both workers have reloaded. */
  const onEveryProcess = (what: string, check: () => Promise<boolean>) =>
    waitFor(what, async () => {
      for (let i = 0; i < 6; i++) if (!(await check())) return undefined;
      return true;
    });

  async function writeAuth(keys: JWK[], signer: string, repositories: string[]): Promise<void> {
    const config = {
      service: SERVICE,
      signingKeys: keys.map((jwk) => ({ jwk })),
      signingKeyId: signer,
      users: { alice: { password: await hashPassword("alice-secret-pw"), teams: ["blue"] } },
      rules: [{ teams: ["blue"], repositories, actions: ["pull", "push", "delete"] }],
    };
    await writeFile(`${authPath}.new`, JSON.stringify(config));
    await rename(`${authPath}.new`, authPath);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-rotate-"));
    authPath = join(dir, "auth.json");
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("signs with the new key while the old one still verifies, then refuses the old key's tokens once it is removed; a new rule applies", async () => {
    const [oldKey, newKey] = [await generateSigningJwk(), await generateSigningJwk()];
    await writeAuth([oldKey], oldKey.kid!, ["blue/*"]);
    registry = await startRegistry({ dataDir: join(dir, "data"), processes: 2, readyPath: "/healthz", env: { AUTH_CONFIG_FILE: authPath, LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" } });
    await waitFor("both workers", async () => (registry.processIds().length >= 3 ? true : undefined));
    const before = (await token(registry, "alice", "alice-secret-pw")).token!;
    expect(kidOf(before)).toBe(oldKey.kid);
    const green = (await token(registry, "alice", "alice-secret-pw", "repository:green/app:pull")).token!;
    expect(await status("/v2/green/app/tags/list", green)).toBe(401);

    // 1. The new key signs, the old one keeps verifying; blue may now pull green/*.
    await writeAuth([newKey, oldKey], newKey.kid!, ["blue/*", "green/*"]);
    process.kill(registry.pid, "SIGHUP");
    await onEveryProcess("tokens signed with the new key", async () => kidOf((await token(registry, "alice", "alice-secret-pw")).token!) === newKey.kid);
    expect(await status("/v2/", before)).toBe(200);
    const granted = (await token(registry, "alice", "alice-secret-pw", "repository:green/app:pull")).token!;
    expect(await status("/v2/green/app/tags/list", granted)).toBe(404); // allowed; nothing there yet

    // 2. The old key removed: its tokens are refused everywhere, the new key's still work.
    const after = (await token(registry, "alice", "alice-secret-pw")).token!;
    await writeAuth([newKey], newKey.kid!, ["blue/*", "green/*"]);
    process.kill(registry.pid, "SIGHUP");
    await onEveryProcess("the old key's token refused", async () => (await status("/v2/", before)) === 401);
    expect(await status("/v2/", after)).toBe(200);
    expect(registry.output()).not.toContain(String(oldKey.d));
    expect(registry.output()).not.toContain(String(newKey.d));
  }, 90_000);
});

describe("the strict Prometheus text parser", () => {
  it("refuses malformed exposition text", () => {
    expect(() => parsePrometheusText("x_total 1\n")).toThrow(/no declared family/);
    expect(() => parsePrometheusText("# TYPE x counter\nx{a=\"b} 1\n")).toThrow(/labels|sample/);
    expect(() => parsePrometheusText("# TYPE x counter\nx one\n")).toThrow(/not a number/);
    expect(() => parsePrometheusText("# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_count 1\nx_sum 1\n")).toThrow(/decreasing/);
    expect(() => parsePrometheusText("# TYPE x counter\nx 1")).toThrow(/newline/);
    expect(parsePrometheusText("# HELP x A thing.\n# TYPE x counter\nx{a=\"q\\\"\"} 3\n").get("x")?.samples[0]).toEqual({ name: "x", labels: { a: 'q"' }, value: 3 });
  });
});
