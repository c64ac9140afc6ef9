/**
 * Webhook events (issue 18) against the real server process and a receiver on 127.0.0.1
 * that records every request: skopeo's push and pull and a tag delete arrive in
 * Distribution's envelope with a valid HMAC-SHA256 signature, each once across two
 * processes; a receiver answering 500 twice gets the event on the third attempt; an
 * event recorded while the receiver is down survives a SIGKILL of the registry; a receiver
 * that never answers does not slow pushes; refusals and changes reach the audit log, and so
 * do the web interface's deletes.
 *
 *   npx vitest run test/process/events.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHmac, createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Visitor } from "../ui/visitor.ts";
import { AnswerLog, freePort, imageManifest, OCI_CONFIG, pushBlob, putManifest, request, sleep, startRegistry, type RegistryProcess } from "./server.ts";

const SECRET = "a-secret-of-at-least-16-characters";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  status: number;
}

/** An HTTP receiver that records each request and answers with what `respond` says (null: never answers). */
class Receiver {
  readonly received: Received[] = [];
  respond: (n: number) => number | null = () => 200;
  #server: Server | null = null;
  #hanging = new Set<ServerResponse>();
  port = 0;

  async listen(port = 0): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const status = this.respond(this.received.length + 1);
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status: status ?? 0 });
        if (status === null) return void this.#hanging.add(res);
        res.writeHead(status).end();
      });
    });
    this.#server.listen(port, "127.0.0.1");
    await once(this.#server, "listening");
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  events(): { id: string; timestamp: string; action: string; target: Record<string, unknown>; request: Record<string, unknown>; actor: Record<string, unknown>; source: Record<string, unknown> }[] {
    return this.received.filter((r) => r.status === 200).flatMap((r) => JSON.parse(r.body).events);
  }

  async waitFor(count: number, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.events().length < count) {
      if (Date.now() > deadline) throw new Error(`the receiver got ${this.events().length} events, not ${count}: ${JSON.stringify(this.received.map((r) => r.body))}`);
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

const notifications = (url: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ endpoints: [{ name: "ci", url, secret: SECRET, headers: { "X-Team": "blue" }, backoffSeconds: 0.1, timeoutSeconds: 2, ...extra }] });

async function pushImage(registry: RegistryProcess, repo: string, tag: string, seed: string): Promise<string> {
  const log = new AnswerLog();
  const config = await pushBlob(registry, log, repo, Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", seed })), OCI_CONFIG);
  const manifest = imageManifest(config, []);
  const res = await putManifest(registry, log, repo, tag, manifest);
  if (res.status !== 201) throw new Error(`manifest PUT: ${res.status} ${res.text()}`);
  return res.header("docker-content-digest")!;
}

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "registry-events-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("events from skopeo's push and pull and a tag delete (PROCESSES=2)", () => {
  let receiver: Receiver;
  let registry: RegistryProcess;

  beforeAll(async () => {
    receiver = await new Receiver().listen();
    registry = await startRegistry({ dataDir: join(dir, "skopeo"), processes: 2, env: { NOTIFICATIONS: notifications(receiver.url), LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" } });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await receiver?.close();
  });

  it("delivers push, pull and delete in Distribution's envelope, signed, each event once", async () => {
    const layout = join(dir, "image");
    await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    const put = async (bytes: Buffer) => {
      const hex = createHash("sha256").update(bytes).digest("hex");
      await writeFile(join(layout, "blobs", "sha256", hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const config = await put(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
    const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: OCI_CONFIG, ...config }, layers: [] }));
    const manifest = await put(manifestBytes);
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
    const host = new URL(registry.url).host;
    const push = spawnSync("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${host}/team/app:v1`], { encoding: "utf8", timeout: 60_000 });
    expect(push.status, push.stderr).toBe(0);
    const pull = spawnSync("skopeo", ["copy", "--src-tls-verify=false", `docker://${host}/team/app:v1`, `oci:${join(dir, "pulled")}:v1`], { encoding: "utf8", timeout: 60_000 });
    expect(pull.status, pull.stderr).toBe(0);
    const deleted = await request(registry.url, "DELETE", "/v2/team/app/manifests/v1");
    expect(deleted.status).toBe(202);

    await receiver.waitFor(3);
    await sleep(1500); // a duplicate would arrive by now (two processes poll every second)
    // Two processes deliver: arrival order is not the order of the changes, their timestamps are.
    const events = receiver.events().sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    for (const event of events) expect(Number.isNaN(Date.parse(event.timestamp)), event.timestamp).toBe(false);
    expect(events.map((e) => e.action)).toEqual(["push", "pull", "delete"]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const [pushed, pulled, removed] = events;
    expect(pushed!.target).toMatchObject({ repository: "team/app", tag: "v1", digest: manifest.digest, size: manifest.size, length: manifest.size, mediaType: "application/vnd.oci.image.manifest.v1+json" });
    expect(pushed!.target.url).toBe(`${registry.url}/v2/team/app/manifests/${manifest.digest}`);
    expect(pushed!.request).toMatchObject({ method: "PUT", addr: "127.0.0.1", host });
    expect(String(pushed!.request.useragent)).toMatch(/skopeo|containers/i);
    expect(pushed!.source.instanceID).toEqual(expect.any(String));
    expect(pulled!.target).toMatchObject({ repository: "team/app", digest: manifest.digest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
    expect(removed!.target).toMatchObject({ repository: "team/app", tag: "v1" });
    for (const delivery of receiver.received) {
      expect(delivery.headers["content-type"]).toBe("application/vnd.docker.distribution.events.v1+json");
      expect(delivery.headers["x-team"]).toBe("blue");
      expect(delivery.headers["x-registry-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`);
    }
    expect(registry.output()).not.toContain(SECRET);
    const metrics = await request(registry.url, "GET", "/metrics");
    expect(metrics.text()).toMatch(/registry_events_total\{endpoint="ci",outcome="delivered"\} 3/);
  }, 120_000);

  it("lists the changes in the audit log, newest first, and logs each as a JSON line", async () => {
    const audit = await request(registry.url, "GET", "/admin/audit?repository=team/app");
    expect(audit.status).toBe(200);
    const entries = (JSON.parse(audit.text()) as { entries: { action: string; identity: string; addr: string; tag?: string }[] }).entries;
    expect(entries.map((e) => e.action)).toEqual(["delete:tag", "pull", "push"]);
    expect(entries[0]).toMatchObject({ identity: "anonymous", addr: "127.0.0.1", tag: "v1" });
    expect(registry.output()).toMatch(/"msg":"audit".*"action":"push"/);
  });
});

describe("delivery that survives failures", () => {
  it("delivers on the third attempt to a receiver answering 500 twice", async () => {
    const receiver = await new Receiver().listen();
    receiver.respond = (n) => (n <= 2 ? 500 : 200);
    const registry = await startRegistry({ dataDir: join(dir, "retry"), processes: 1, env: { NOTIFICATIONS: notifications(receiver.url), GC_INTERVAL_SECONDS: "0" } });
    try {
      const digest = await pushImage(registry, "team/retry", "v1", "retry");
      await receiver.waitFor(1);
      expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200]);
      // The same event each time.
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
      expect(receiver.events()[0]!.target.digest).toBe(digest);
      const metrics = (await request(registry.url, "GET", "/metrics")).text();
      expect(metrics).toMatch(/registry_events_total\{endpoint="ci",outcome="failed"\} 2/);
      expect(metrics).toMatch(/registry_events_total\{endpoint="ci",outcome="delivered"\} 1/);
    } finally {
      await registry.stop();
      await receiver.close();
    }
  }, 60_000);

  it("drops an event after maxAttempts, counting it and logging one line", async () => {
    const receiver = await new Receiver().listen();
    receiver.respond = () => 503;
    const registry = await startRegistry({ dataDir: join(dir, "drop"), processes: 1, env: { NOTIFICATIONS: notifications(receiver.url, { maxAttempts: 3 }), LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" } });
    try {
      await pushImage(registry, "team/drop", "v1", "drop");
      for (let i = 0; i < 100 && !registry.output().includes("event dropped"); i++) await sleep(50);
      await sleep(500);
      expect(receiver.received.length).toBe(3);
      expect(registry.output().match(/event dropped/g)).toHaveLength(1);
      expect((await request(registry.url, "GET", "/metrics")).text()).toMatch(/registry_events_total\{endpoint="ci",outcome="dropped"\} 1/);
    } finally {
      await registry.stop();
      await receiver.close();
    }
  }, 60_000);

  it("delivers an event recorded while the receiver was down after the registry was SIGKILLed and restarted", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/events`;
    let registry = await startRegistry({ dataDir: join(dir, "restart"), processes: 2, env: { NOTIFICATIONS: notifications(url), LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" } });
    let receiver: Receiver | null = null;
    try {
      const digest = await pushImage(registry, "team/restart", "v1", "restart");
      // At least one attempt failed on the closed port before the kill.
      for (let i = 0; i < 100; i++) {
        if ((await request(registry.url, "GET", "/metrics")).text().match(/outcome="failed"\} [1-9]/)) break;
        await sleep(50);
      }
      await registry.kill();
      receiver = await new Receiver().listen(port);
      registry = await registry.restart();
      await receiver.waitFor(1, 20_000);
      expect(receiver.events()).toHaveLength(1);
      expect(receiver.events()[0]).toMatchObject({ action: "push", target: { digest, tag: "v1", repository: "team/restart" } });
    } finally {
      await registry.stop();
      await receiver?.close();
    }
  }, 90_000);
});

describe("a receiver that never answers", () => {
  it("does not slow pushes (same pushes with and without the endpoint)", async () => {
    const timed = async (env: Record<string, string>, name: string, stopStarted = { at: 0 }) => {
      const registry = await startRegistry({ dataDir: join(dir, name), processes: 1, env: { GC_INTERVAL_SECONDS: "0", ...env } });
      try {
        await pushImage(registry, "team/warm", "v0", `${name}-warm`);
        const started = performance.now();
        for (let i = 0; i < 20; i++) await pushImage(registry, "team/timed", `v${i}`, `${name}-${i}`);
        return performance.now() - started;
      } finally {
        stopStarted.at = performance.now();
        await registry.stop();
      }
    };
    const receiver = await new Receiver().listen();
    receiver.respond = () => null;
    try {
      const without = await timed({}, "plain");
      const stopStarted = { at: 0 };
      const withEndpoint = await timed({ NOTIFICATIONS: notifications(receiver.url, { timeoutSeconds: 30 }) }, "hanging", stopStarted);
      // A send waiting on the receiver is cut short by the shutdown (SIGKILL would come after 5 s).
      expect(performance.now() - stopStarted.at).toBeLessThan(4000);
      console.log(`20 pushes: ${Math.round(without)} ms without an endpoint, ${Math.round(withEndpoint)} ms with one that never answers`);
      expect(receiver.received.length).toBeGreaterThan(0);
      // Loose: a shared 2-core machine; a push waiting on the 30 s timeout would be far past it.
      expect(withEndpoint).toBeLessThan(without * 3 + 1000);
    } finally {
      await receiver.close();
    }
  }, 120_000);
});

describe("the audit log with auth", () => {
  it("records a refused push with the caller's address, and GET /admin/audit needs the admin right", async () => {
    const auth = {
      service: "oci-registry",
      users: { alice: { password: "pbkdf2-sha256$100000$rS0nExO1xPijuSym4Bz9NQ$IKLLR-tBLaGdM-kmUe6CZkmrPUqVVEnlsBPJze6Z1e0", teams: ["blue"] } },
      rules: [
        { teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] },
        { identities: ["alice"], admin: true },
      ],
    };
    const registry = await startRegistry({ dataDir: join(dir, "auth"), processes: 1, readyPath: "/healthz", env: { AUTH_CONFIG: JSON.stringify(auth), LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" } });
    try {
      const refused = await request(registry.url, "POST", "/v2/blue/app/blobs/uploads/");
      expect(refused.status).toBe(401);
      expect((await request(registry.url, "GET", "/admin/audit")).status).toBe(401);
      const basic = `Basic ${Buffer.from("alice:alice-secret").toString("base64")}`;
      const token = await request(registry.url, "GET", "/token?service=oci-registry&scope=registry:admin:*", { headers: { authorization: basic } });
      expect(token.status).toBe(200);
      const bearer = `Bearer ${(JSON.parse(token.text()) as { token: string }).token}`;
      const audit = await request(registry.url, "GET", "/admin/audit?limit=10", { headers: { authorization: bearer } });
      expect(audit.status).toBe(200);
      const entries = (JSON.parse(audit.text()) as { entries: Record<string, unknown>[] }).entries;
      expect(entries).toContainEqual(expect.objectContaining({ outcome: "refused", status: 401, identity: "anonymous", addr: "127.0.0.1", repository: "blue/app", action: "POST /v2/:name{.+}/blobs/uploads/" }));
      expect(registry.output()).toMatch(/"level":"warn","msg":"audit".*"outcome":"refused"/);
      expect(registry.output()).not.toContain("alice-secret");
    } finally {
      await registry.stop();
    }
  }, 60_000);
});

describe("events of garbage collection", () => {
  it("sends a delete for each tag retention removes, with the collector as actor", async () => {
    const receiver = await new Receiver().listen();
    const registry = await startRegistry({
      dataDir: join(dir, "gc"),
      processes: 1,
      env: { NOTIFICATIONS: notifications(receiver.url, { actions: ["delete", "gc"] }), RETENTION: JSON.stringify([{ repositories: ["team/*"], keepLastTags: 1 }]), GC_INTERVAL_SECONDS: "0" },
    });
    try {
      await pushImage(registry, "team/gc", "old", "gc-old");
      await sleep(20);
      await pushImage(registry, "team/gc", "new", "gc-new");
      const dry = await request(registry.url, "POST", "/admin/gc?dry-run=true");
      expect(dry.status).toBe(200);
      const run = await request(registry.url, "POST", "/admin/gc");
      expect(run.status).toBe(200);
      await receiver.waitFor(1);
      await sleep(1500);
      // The pushes are filtered out by `actions`; the dry run sent nothing.
      expect(receiver.events()).toHaveLength(1);
      expect(receiver.events()[0]).toMatchObject({ action: "delete", target: { repository: "team/gc", tag: "old" }, actor: { name: "garbage-collector" } });
    } finally {
      await registry.stop();
      await receiver.close();
    }
  }, 60_000);
});

describe("a push by digest with several ?tag=", () => {
  it("sends one push event per tag", async () => {
    const receiver = await new Receiver().listen();
    const registry = await startRegistry({ dataDir: join(dir, "tags"), processes: 1, env: { NOTIFICATIONS: notifications(receiver.url), GC_INTERVAL_SECONDS: "0" } });
    try {
      const log = new AnswerLog();
      const config = await pushBlob(registry, log, "team/tags", Buffer.from('{"architecture":"amd64","os":"linux"}'), OCI_CONFIG);
      const manifest = imageManifest(config, []);
      const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
      expect((await putManifest(registry, log, "team/tags", digest, manifest, ["a", "b"])).status).toBe(201);
      await receiver.waitFor(2);
      expect(receiver.events().map((e) => [e.action, e.target.tag, e.target.digest])).toEqual([
        ["push", "a", digest],
        ["push", "b", digest],
      ]);
    } finally {
      await registry.stop();
      await receiver.close();
    }
  }, 60_000);
});

describe("deletes from the web interface", () => {
  it("reach the receiver and the audit log as the /v2/ and /admin/ deletes do: a tag, a manifest, a repository", async () => {
    const receiver = await new Receiver().listen();
    const registry = await startRegistry({ dataDir: join(dir, "ui"), processes: 1, env: { NOTIFICATIONS: notifications(receiver.url, { actions: ["delete"] }), GC_INTERVAL_SECONDS: "0" } });
    try {
      await pushImage(registry, "team/ui", "v1", "ui-1");
      const second = await pushImage(registry, "team/ui", "v2", "ui-2");
      await pushImage(registry, "team/ui", "api", "ui-3");
      await pushImage(registry, "team/whole", "v1", "whole");
      const visitor = new Visitor((path, init) => fetch(`${registry.url}${path}`, init));
      const csrf = await visitor.csrf("/ui/r/team/ui/-/delete?tag=v1");
      expect((await visitor.post("/ui/r/team/ui/-/delete", { csrf, tag: "v1" })).status).toBe(200);
      expect((await visitor.post("/ui/r/team/ui/-/delete", { csrf, digest: second })).status).toBe(200);
      expect((await visitor.post("/ui/r/team/whole/-/delete-repository", { csrf })).status).toBe(200);
      // The same tag delete through the API, to compare with.
      expect((await request(registry.url, "DELETE", "/v2/team/ui/manifests/api")).status).toBe(202);

      await receiver.waitFor(4);
      // Sent concurrently: found by what they name, not by their order.
      const events = receiver.events();
      const named = (match: (target: Record<string, unknown>) => boolean) => events.find((event) => match(event.target));
      const tag = named((t) => t.tag === "v1");
      const api = named((t) => t.tag === "api");
      const manifest = named((t) => t.digest === second);
      const repository = named((t) => t.repository === "team/whole");
      expect(tag).toMatchObject({ action: "delete", target: { repository: "team/ui", tag: "v1" }, request: { method: "POST", addr: "127.0.0.1" } });
      expect(Object.keys(tag!.target).sort()).toEqual(Object.keys(api!.target).sort());
      expect(api).toMatchObject({ action: "delete", target: { repository: "team/ui", tag: "api" } });
      expect(manifest).toMatchObject({ action: "delete", target: { repository: "team/ui", digest: second, url: `${registry.url}/v2/team/ui/manifests/${second}` } });
      expect(repository).toMatchObject({ action: "delete", target: { repository: "team/whole" } });
      for (const delivery of receiver.received) expect(delivery.headers["x-registry-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`);

      const actions = async (name: string) => (JSON.parse((await request(registry.url, "GET", `/admin/audit?repository=${name}`)).text()) as { entries: { action: string; identity: string }[] }).entries;
      expect((await actions("team/ui")).map((e) => e.action)).toEqual(["delete:tag", "delete", "delete:tag", "push", "push", "push"]);
      expect((await actions("team/whole")).map((e) => e.action)).toEqual(["delete:repository", "push"]);
    } finally {
      await registry.stop();
      await receiver.close();
    }
  }, 60_000);
});
