/** Retention rules on the Node runtime's stores (files + SQLite), through the HTTP API and the collector. */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { DATABASE_FILE, openLocalMetadata, type LocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { NodeSqliteDriver } from "../../src/adapters/sqlite/node-driver.ts";
import { resolveConfig } from "../../src/config/schema.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { Collector } from "../../src/lifecycle/collector.ts";
import { applyRetention, type RetentionRule } from "../../src/lifecycle/retention.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";
const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const DAY = 86_400_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function fixture() {
  const root = await mkdtemp(join(tmpdir(), "registry-retention-"));
  const clock = { now: 10 * DAY };
  const metadata: LocalMetadata & { root: string } = { ...openLocalMetadata(root, { now: () => clock.now }), root };
  const blobs = new FilesystemBlobStore(join(root, "blobs"));
  const app = createApp(new Registry({ blobs, metadata: metadata.store, hashing: hashWasm, partSize: MIN_PART_SIZE, now: () => clock.now }));
  cleanups.push(async () => {
    metadata.close();
    await rm(root, { recursive: true, force: true });
  });
  const retention = (rules: RetentionRule[], dryRun = false) =>
    applyRetention({ metadata: metadata.store, rules, immutableTags: [{ repositories: ["team/*"], tags: ["stable"] }], now: () => clock.now }, { dryRun });
  return { app, clock, metadata, blobs, retention };
}

type App = Awaited<ReturnType<typeof fixture>>["app"];

/** Pushes an image (config `n`, no layers) under `reference`; answers its digest. */
async function push(app: App, repo: string, reference: string, n: number, extra: Record<string, unknown> = {}): Promise<string> {
  const config = `{"n":${n}}`;
  await app.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(config)}`, { method: "POST", body: config });
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length }, layers: [], ...extra });
  const res = await app.request(`/v2/${repo}/manifests/${reference === "" ? sha256(manifest) : reference}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
  expect(res.status, await res.text()).toBe(201);
  return sha256(manifest);
}

async function tags(app: App, repo: string): Promise<string[]> {
  return ((await (await app.request(`/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
}

describe("retention rules", () => {
  it("keeps the N most recently pushed tags, besides protected and immutable ones; a dry run lists the same and changes nothing", async () => {
    const { app, clock, retention } = await fixture();
    for (const [i, tag] of ["v1", "v2", "v3", "v4", "latest", "stable"].entries()) {
      clock.now += 1000;
      await push(app, "team/app", tag, i);
    }
    clock.now += 1000;
    await push(app, "team/app", "v1", 0); // pushed again: now the newest
    const rules = [{ repositories: ["team/*"], keepLastTags: 2, protectTags: ["latest"] }];
    const dry = await retention(rules, true);
    expect(dry.tags).toEqual([
      { repository: "team/app", tag: "v3" },
      { repository: "team/app", tag: "v2" },
    ]);
    expect(await tags(app, "team/app")).toEqual(["latest", "stable", "v1", "v2", "v3", "v4"]);
    expect((await retention(rules)).tags).toEqual(dry.tags);
    expect(await tags(app, "team/app")).toEqual(["latest", "stable", "v1", "v4"]);
    // Repositories no rule names are untouched.
    await push(app, "other/app", "a", 1);
    await push(app, "other/app", "b", 2);
    await retention(rules);
    expect(await tags(app, "other/app")).toEqual(["a", "b"]);
  });

  it("deletes untagged manifests older than the limit, but not an index's children nor a referrer whose subject is there; the collector then reclaims their bytes", async () => {
    const { app, clock, metadata, blobs, retention } = await fixture();
    const old = await push(app, "team/app", "", 1);
    const child = await push(app, "team/app", "", 2);
    const subject = await push(app, "team/app", "v1", 3);
    const signature = await push(app, "team/app", "", 4, { subject: { mediaType: MANIFEST, digest: subject, size: 1 }, artifactType: "application/vnd.example.sig" });
    const index = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: child, size: 1 }] });
    expect((await app.request("/v2/team/app/manifests/multi", { method: "PUT", body: index, headers: { "Content-Type": INDEX } })).status).toBe(201);
    clock.now += 2 * DAY;
    const recent = await push(app, "team/app", "", 5);

    const rules = [{ repositories: ["team/*"], untaggedAfterSeconds: DAY / 1000 }];
    expect((await retention(rules)).manifests).toEqual([{ repository: "team/app", digest: old }]);
    for (const [digest, status] of [[old, 404], [child, 200], [signature, 200], [recent, 200]] as const) {
      expect((await app.request(`/v2/team/app/manifests/${digest}`, { method: "HEAD" })).status, digest).toBe(status);
    }
    // Once its subject is deleted, the signature goes too.
    expect((await app.request(`/v2/team/app/manifests/${subject}`, { method: "DELETE" })).status).toBe(202);
    expect((await retention(rules)).manifests.map((m) => m.digest)).toEqual([signature]);
    const freed = await new Collector({ metadata: metadata.store, blobs, graceMs: 0, orphanLinkAgeMs: 0, now: () => clock.now }).run();
    expect(freed.blobsDeleted).toBeGreaterThanOrEqual(4); // three manifests' bytes and their configs (one config is shared)
  });

  it("keeps what an earlier version wrote without push times or references: such tags stay, and no untagged manifest goes while an index's references are unknown", async () => {
    const { app, clock, metadata, retention } = await fixture();
    const child = await push(app, "team/app", "", 1);
    const index = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: child, size: 1 }] });
    expect((await app.request("/v2/team/app/manifests/latest", { method: "PUT", body: index, headers: { "Content-Type": INDEX } })).status).toBe(201);
    await push(app, "team/app", "v1", 2);
    // As the import of an earlier version's data leaves them.
    const db = new NodeSqliteDriver(join(metadata.root, DATABASE_FILE));
    db.run("UPDATE tags SET tagged_at = 0");
    db.run("UPDATE manifests SET refs_recorded = 0 WHERE digest = ?", sha256(index));
    db.run("DELETE FROM manifest_refs WHERE manifest = ?", sha256(index));
    db.close();
    clock.now += 30 * DAY;
    expect(await retention([{ repositories: ["team/*"], keepLastTags: 0, untaggedAfterSeconds: 1 }])).toMatchObject({ tags: [], manifests: [] });
    expect(await tags(app, "team/app")).toEqual(["latest", "v1"]);
    expect((await app.request(`/v2/team/app/manifests/${child}`, { method: "HEAD" })).status).toBe(200);
  });

  it("a tag pushed again after retention listed it is kept", async () => {
    const { app, clock, metadata } = await fixture();
    await push(app, "team/app", "v1", 1);
    const [listed] = await metadata.store.listTagTimes("team/app");
    clock.now += 1000;
    await push(app, "team/app", "v1", 2);
    expect(await metadata.store.deleteTagIfUnchanged("team/app", "v1", listed!.digest, listed!.taggedAt)).toBe(false);
    expect(await tags(app, "team/app")).toEqual(["v1"]);
  });

  it("the retention setting is checked at start-up, with each problem named", () => {
    const rules = [{ repositories: ["team/*"], keepLastTags: 10, untaggedAfterSeconds: 604800, protectTags: ["latest"] }];
    expect(resolveConfig({ retention: rules }, {}).retention).toEqual(rules);
    expect(resolveConfig({}, { RETENTION: JSON.stringify(rules) }).retention).toEqual(rules);
    expect(() => resolveConfig({ retention: [{ repositories: ["a/*"] }] }, {})).toThrow(/rule 1: give "keepLastTags", "untaggedAfterSeconds" or both/);
    expect(() => resolveConfig({ retention: [{ repositories: ["a/*"], keepLastTags: -1, extra: 1 }] }, {})).toThrow(/"keepLastTags" must be a whole number[\s\S]*unknown field\(s\) extra/);
  });
});
