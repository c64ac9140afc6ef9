/**
 * The catalog's last push time and size per repository, and deleting a whole repository from
 * the web interface: in process, on the SQLite metadata store (which deletes repositories, as
 * the Node runtime's maintenance does) with the teams of test/auth/support.ts, ops made
 * administrators. Confirmation page, CSRF and Origin checks as for tag deletes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { SqliteMetadataStore } from "../../src/adapters/sqlite/metadata-store.ts";
import { NodeSqliteDriver } from "../../src/adapters/sqlite/node-driver.ts";
import { deleteRepository } from "../../src/lifecycle/repositories.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import { formatBytes } from "../../src/ui/format.ts";
import { authedRegistry, bearer, PASSWORDS, teamsConfig, type AuthedRegistry } from "../auth/support.ts";
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, pushManifest, type Send } from "./push.ts";
import { Visitor } from "./visitor.ts";

let dir: string;
let driver: NodeSqliteDriver;
let metadata: SqliteMetadataStore;
let registry: AuthedRegistry;
let send: Send;
/** The dryRun of each collection the pages asked maintenance for, in order. */
const collections: boolean[] = [];

const SHARED_LAYER = new TextEncoder().encode("a layer two repositories share ".repeat(40));

async function pushAs(user: keyof typeof PASSWORDS, repository: string, tag: string): Promise<void> {
  const headers = bearer(await registry.token([user, PASSWORDS[user]], `repository:${repository}:pull,push`));
  const config = await pushBlob(send, repository, new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", tag })), OCI_CONFIG, headers);
  const shared = await pushBlob(send, repository, SHARED_LAYER, OCI_LAYER, headers);
  const own = await pushBlob(send, repository, new TextEncoder().encode(`${repository}:${tag}`), OCI_LAYER, headers);
  await pushManifest(send, repository, tag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [shared, own] }, headers);
}

async function signedIn(user: keyof typeof PASSWORDS): Promise<Visitor> {
  const visitor = new Visitor(send);
  expect((await visitor.signIn(user, PASSWORDS[user])).status).toBe(303);
  return visitor;
}

/** The catalog row of `repository` on `/`. */
function rowOf(html: string, repository: string): string {
  const row = html.split("<tr>").find((part) => part.includes(`>${repository}</a>`));
  if (!row) throw new Error(`no row for ${repository}`);
  return row;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "registry-ui-admin-"));
  driver = new NodeSqliteDriver(join(dir, "registry.db"));
  metadata = new SqliteMetadataStore(driver);
  const blobs = new MemoryBlobStore();
  const config = await teamsConfig();
  registry = await authedRegistry(
    { ...config, rules: [...(config.rules as unknown[]), { teams: ["ops"], admin: true }] },
    {
      blobs,
      metadata,
      maintenance: { usage: () => measureUsage(metadata), collect: async ({ dryRun }) => (collections.push(dryRun), { collection: { blobsDeleted: dryRun ? 3 : 2, bytesFreed: 3000, orphanLinksRemoved: 0 } }), deleteRepository: (name) => deleteRepository(metadata, blobs, name) },
    },
  );
  send = registry.request;
});

afterAll(async () => {
  driver.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the catalog's last push time and size", () => {
  it("shows each repository's newest manifest put and its bytes as the usage report counts them, a shared layer in each", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    await pushAs("alice", "blue/sized", "v1");
    await pushAs("alice", "blue/sized", "v2");
    await pushAs("alice", "blue/sharer", "v1");
    const after = Date.now();
    const usage = await measureUsage(metadata);
    const bytesOf = (name: string) => usage.repositories.find((r) => r.name === name)!.bytes;
    expect(bytesOf("blue/sized")).toBeGreaterThan(SHARED_LAYER.byteLength);

    const { html } = await (await signedIn("alice")).get("/");
    expect(html).toContain('<th scope="col">Last push</th><th scope="col">Size</th>');
    for (const name of ["blue/sized", "blue/sharer"]) {
      const row = rowOf(html, name);
      expect(row).toContain(`data-bytes="${bytesOf(name)}">${formatBytes(bytesOf(name))}<`);
      const pushed = Date.parse(/<time datetime="([^"]+)">/.exec(row)![1]!);
      expect(pushed).toBeGreaterThanOrEqual(before);
      expect(pushed).toBeLessThanOrEqual(after);
    }
    expect(html).toContain("a layer shared with other repositories counts in each");
  });
});

describe("deleting a whole repository", () => {
  it("asks for confirmation, then deletes the repository for a team member with the delete right: gone from the catalog and the API", async () => {
    await pushAs("alice", "blue/doomed", "v1");
    const alice = await signedIn("alice");
    const repositoryPage = await alice.get("/ui/r/blue/doomed");
    expect(repositoryPage.html).toContain('href="/ui/r/blue/doomed/-/delete-repository"');
    const confirm = await alice.get("/ui/r/blue/doomed/-/delete-repository");
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Delete the repository blue/doomed?");
    expect((await alice.get("/")).html).toContain(">blue/doomed<");
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.html)![1]!;

    const done = await alice.post("/ui/r/blue/doomed/-/delete-repository", { csrf });
    expect(done.status).toBe(200);
    expect(done.html).toContain("The repository blue/doomed was deleted, with 1 manifest and 1 tag.");
    expect((await alice.get("/")).html).not.toContain("blue/doomed");
    expect((await alice.get("/ui/r/blue/doomed")).status).toBe(404);
    const pull = bearer(await registry.token(["alice", PASSWORDS.alice], "repository:blue/doomed:pull"));
    expect((await send("/v2/blue/doomed/tags/list", { headers: pull })).status).toBe(404);
    expect(await metadata.repositorySummary("blue/doomed")).toMatchObject({ lastPushedAt: null, bytes: 0 });
    // Again: the repository is not there any more.
    expect((await alice.post("/ui/r/blue/doomed/-/delete-repository", { csrf })).status).toBe(404);
  });

  it("deletes nothing for a form without the visitor's CSRF token, or sent from another site", async () => {
    await pushAs("alice", "blue/kept", "v1");
    const alice = await signedIn("alice");
    const csrf = await alice.csrf("/ui/r/blue/kept/-/delete-repository");
    expect((await alice.post("/ui/r/blue/kept/-/delete-repository", {})).status).toBe(403);
    expect((await alice.post("/ui/r/blue/kept/-/delete-repository", { csrf: await new Visitor(send).csrf("/ui/sign-in") })).status).toBe(403);
    expect((await alice.post("/ui/r/blue/kept/-/delete-repository", { csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await alice.post("/ui/r/blue/kept/-/delete-repository", { csrf }, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect(await metadata.repositoryExists("blue/kept")).toBe(true);
    expect((await alice.get("/")).html).toContain(">blue/kept<");
  });

  it("refuses a team member without the delete right (403) and a member of another team (404), and shows neither the button", async () => {
    await pushAs("alice", "blue/guarded", "v1");
    const carol = await signedIn("carol");
    expect((await carol.get("/ui/r/blue/guarded")).html).not.toContain("delete-repository");
    expect((await carol.get("/ui/r/blue/guarded/-/delete-repository")).status).toBe(403);
    const carolCsrf = await carol.csrf("/");
    expect((await carol.post("/ui/r/blue/guarded/-/delete-repository", { csrf: carolCsrf })).status).toBe(403);
    const bob = await signedIn("bob");
    expect((await bob.post("/ui/r/blue/guarded/-/delete-repository", { csrf: await bob.csrf("/") })).status).toBe(404);
    const anonymous = new Visitor(send);
    expect((await anonymous.post("/ui/r/blue/guarded/-/delete-repository", { csrf: await anonymous.csrf("/ui/sign-in") })).status).toBe(404);
    expect(await metadata.repositoryExists("blue/guarded")).toBe(true);
  });

  it("lets an administrator delete any repository", async () => {
    await pushAs("bob", "green/old", "v1");
    const olga = await signedIn("olga");
    const csrf = await olga.csrf("/ui/r/green/old/-/delete-repository");
    expect((await olga.post("/ui/r/green/old/-/delete-repository", { csrf })).status).toBe(200);
    expect(await metadata.repositoryExists("green/old")).toBe(false);
  });

  it("offers no button where the runtime cannot delete a whole repository", async () => {
    const bare = await authedRegistry(await teamsConfig());
    const token = bearer(await bare.token(["alice", PASSWORDS.alice], "repository:blue/app:pull,push"));
    const config = await pushBlob(bare.request, "blue/app", new TextEncoder().encode("{}"), OCI_CONFIG, token);
    await pushManifest(bare.request, "blue/app", "v1", { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, token);
    const alice = new Visitor(bare.request);
    await alice.signIn("alice", PASSWORDS.alice);
    expect((await alice.get("/ui/r/blue/app")).html).not.toContain("delete-repository");
    expect((await alice.get("/ui/r/blue/app/-/delete-repository")).status).toBe(405);
  });
});

describe("garbage collection from the usage page", () => {
  it("runs a dry run at once, but a real run only after a confirmation page showing what a dry run finds now", async () => {
    const olga = await signedIn("olga");
    const csrf = await olga.csrf("/ui/usage");
    collections.length = 0;
    const dry = await olga.post("/ui/gc", { csrf, "dry-run": "true" });
    expect(dry.status).toBe(200);
    expect(dry.html).toContain("Dry run, nothing changed. Would remove 0 tags and 0 manifests by retention rules, 3 blobs");
    expect(collections).toEqual([true]);

    const asked = await olga.post("/ui/gc", { csrf });
    expect(asked.status).toBe(200);
    expect(asked.html).toContain("Run garbage collection?");
    expect(asked.html).toContain("Would remove 0 tags and 0 manifests by retention rules, 3 blobs");
    expect(asked.html).toContain('name="confirmed" value="true"');
    expect(collections).toEqual([true, true]);

    const ran = await olga.post("/ui/gc", { csrf: /name="csrf" value="([^"]+)"/.exec(asked.html)![1]!, confirmed: "true" });
    expect(ran.status).toBe(200);
    expect(ran.html).toContain("Removed 0 tags and 0 manifests by retention rules, 2 blobs");
    expect(collections).toEqual([true, true, false]);
  });

  it("collects nothing for a confirmed form without the CSRF token or from another site", async () => {
    const olga = await signedIn("olga");
    const csrf = await olga.csrf("/ui/usage");
    collections.length = 0;
    expect((await olga.post("/ui/gc", { confirmed: "true" })).status).toBe(403);
    expect((await olga.post("/ui/gc", { csrf, confirmed: "true" }, { origin: "https://evil.example" })).status).toBe(403);
    expect(collections).toEqual([]);
  });
});

describe("a repository's tags sorted by push time", () => {
  it("lists the newest push first with ?sort=pushed, and by name without it", async () => {
    for (const tag of ["b-first", "c-second", "a-third"]) {
      await pushAs("alice", "blue/ordered", tag);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct push times
    }
    const alice = await signedIn("alice");
    const order = (html: string) => [...html.matchAll(/<td><span class="mono">(a-third|b-first|c-second)<\/span>/g)].map((m) => m[1]);
    const byTime = await alice.get("/ui/r/blue/ordered?sort=pushed");
    expect(byTime.status).toBe(200);
    expect(order(byTime.html)).toEqual(["a-third", "c-second", "b-first"]);
    expect(byTime.html).toContain('<th scope="col">Pushed</th>');
    expect(order((await alice.get("/ui/r/blue/ordered")).html)).toEqual(["a-third", "b-first", "c-second"]);
  });
});
