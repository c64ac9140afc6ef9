/**
 * Manifests a repository object stored before references were recorded (refs_recorded = 0:
 * copied from the legacy tables, or written by an earlier version) make the collector keep every
 * link of their repository; the scanning collector reads their references from their bytes and
 * records them, after which orphan links go as anywhere else, and the image still pulls whole.
 */
import { env, reset, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256Wasm from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512Wasm from "../../src/adapters/wasm-sha2/sha512.wasm";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { ScanningCollector } from "../../src/lifecycle/scanning-collector.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { pullsWhole, pushBlob, pushImage, random, sha256, text } from "../contract/image-pushes.ts";

afterEach(() => reset());

describe("references of manifests stored before they were recorded (Durable Objects)", () => {
  it("are read from the manifests' bytes by the collector, so a link no manifest uses goes and the image still pulls whole", async () => {
    const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
    const blobs = new R2BlobStore(env.BLOBS);
    const app = createApp(new Registry({ blobs, metadata, hashing: wasmSha2Hashing({ sha256: sha256Wasm, sha512: sha512Wasm }), partSize: MIN_PART_SIZE }));
    expect((await pushImage(app, "old/app", "v1", text('{"o":1}'), [random(4000)])).status).toBe(201);
    const stray = random(3000);
    expect((await pushBlob(app, "old/app", stray)).status).toBe(201); // linked, used by no manifest
    // As an earlier version left it: the manifest's references unknown.
    await runInDurableObject(env.REPOSITORIES.getByName("old/app"), (_object, state) => {
      state.storage.sql.exec("UPDATE manifests SET refs_recorded = 0");
      state.storage.sql.exec("DELETE FROM manifest_refs");
    });
    expect((await metadata.scanRepository("old/app", Number.MAX_SAFE_INTEGER, true)).orphanLinks).toBe(0); // unknown references keep every link

    let now = Date.now() + 1000;
    const collector = () => new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 0, now: () => now });
    expect(await collector().run({ dryRun: true })).toMatchObject({ referencesRecorded: 0, orphanLinksRemoved: 0 }); // a dry run changes nothing
    expect(await collector().run()).toMatchObject({ referencesRecorded: 1, orphanLinksRemoved: 1, blobsMarked: 1, problems: [] });
    now += 61_000;
    expect(await collector().run()).toMatchObject({ referencesRecorded: 0, blobsDeleted: 1 });
    expect((await app.request(`/v2/old/app/blobs/${await sha256(stray)}`, { method: "HEAD" })).status).toBe(404);
    expect(await pullsWhole(app, "old/app", "v1")).toBe(true);
  });

  it("a manifest whose bytes are gone is reported and keeps its repository's links", async () => {
    const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
    const blobs = new R2BlobStore(env.BLOBS);
    const app = createApp(new Registry({ blobs, metadata, hashing: wasmSha2Hashing({ sha256: sha256Wasm, sha512: sha512Wasm }), partSize: MIN_PART_SIZE }));
    const pushed = await pushImage(app, "old/app", "v1", text('{"o":2}'), [random(1000)]);
    expect((await pushBlob(app, "old/app", random(500))).status).toBe(201);
    const record = (await metadata.getManifest("old/app", pushed.digest))!;
    await runInDurableObject(env.REPOSITORIES.getByName("old/app"), (_object, state) => {
      state.storage.sql.exec("UPDATE manifests SET refs_recorded = 0");
      state.storage.sql.exec("DELETE FROM manifest_refs");
    });
    await blobs.delete(record.key);
    const report = await new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 0, now: () => Date.now() + 1000 }).run();
    expect(report).toMatchObject({ referencesRecorded: 0, orphanLinksRemoved: 0 });
    expect(report.problems).toEqual([expect.stringContaining(`manifest ${pushed.digest} in old/app: references not read`)]);
  });
});
