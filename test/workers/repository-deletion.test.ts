/**
 * Whole-repository deletion on Durable Objects + R2, inside workerd: the shared contract, and the
 * interleaving that the catalog tokens exist for (DurableObjectMetadataStore.deleteRepository): a
 * push that registers between the repository object's step and the catalog's keeps its repository
 * listed.
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
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { pullsWhole, pushImage, random, text } from "../contract/image-pushes.ts";
import { repositoryDeletionContract } from "../contract/repository-deletion.contract.ts";

const hashing = wasmSha2Hashing({ sha256: sha256Wasm, sha512: sha512Wasm });
const newStore = () => new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
/** A registry over `metadata` and the local R2 bucket, as one Worker isolate has it. */
const registryOver = (metadata: DurableObjectMetadataStore) => new Registry({ blobs: new R2BlobStore(env.BLOBS), metadata, hashing, partSize: MIN_PART_SIZE });
const appOver = (metadata: DurableObjectMetadataStore) => createApp(registryOver(metadata));

repositoryDeletionContract("durable objects + r2", async () => ({
  metadata: newStore(),
  blobs: new R2BlobStore(env.BLOBS),
  hashing,
  objects: async () => (await env.BLOBS.list({ prefix: "blobs/" })).objects.map((o) => o.key).sort(),
  catalogAlwaysListsHolders: true,
  cleanup: () => reset(),
}));

describe("repository deletion on Durable Objects, step by step", () => {
  afterEach(() => reset());
  const catalog = () => env.CATALOG.getByName("catalog").list({});

  it("a push between the repository object's deletion and the catalog's keeps the repository listed (its registration gave the name a new token)", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [random(1000)])).status).toBe(201);

    // The deletion's first steps, as DurableObjectMetadataStore.deleteRepository takes them.
    const token = await env.CATALOG.getByName("catalog").tokenOf("team/a");
    const wiped = await env.REPOSITORIES.getByName("team/a").deleteRepository("team/a", token ?? null);
    expect(wiped).toMatchObject({ registered: true, manifests: 1, tags: 1, links: 2 });
    // A push from another isolate (a store of its own) lands in between: it must register again.
    expect((await pushImage(appOver(newStore()), "team/a", "v2", text('{"a":2}'), [random(1000)])).status).toBe(201);
    // The deletion's second step: the token it read is no longer the catalog's.
    expect(await env.CATALOG.getByName("catalog").unregister("team/a", token ?? null)).toBe(false);

    expect(await catalog()).toEqual(["team/a"]);
    expect(await pullsWhole(app, "team/a", "v2")).toBe(true);
  });

  it("a write to an object whose registration was deleted registers it in the catalog before it writes, even in an isolate that wrote there before", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [random(1000)])).status).toBe(201);
    // Both steps, the catalog first this time: nothing listed, nothing held.
    const token = await env.CATALOG.getByName("catalog").tokenOf("team/a");
    await env.REPOSITORIES.getByName("team/a").deleteRepository("team/a", token ?? null);
    expect(await env.CATALOG.getByName("catalog").unregister("team/a", token ?? null)).toBe(true);
    expect(await catalog()).toEqual([]);
    // The same store (the same isolate) pushes again: no cached "registered" skips the catalog.
    expect((await pushImage(app, "team/a", "v2", text('{"a":2}'), [random(1000)])).status).toBe(201);
    expect(await catalog()).toEqual(["team/a"]);
    expect(await env.REPOSITORIES.getByName("team/a").isRegistered()).toBe(true);
  });

  it("a push's late registration, older than one an empty-repository drop removed, is refused, so the push registers again and its repository stays listed", async () => {
    const metadata = newStore();
    const object = env.REPOSITORIES.getByName("team/b");
    const catalogObject = env.CATALOG.getByName("catalog");
    // Two pushes find the object unregistered and register at once: P gets the older token, Q the newer.
    const older = await catalogObject.register("team/b");
    const newer = await catalogObject.register("team/b");
    // Q marks the object; before Q writes, the collector drops the (empty) repository under Q's token.
    await object.markRegistered(newer);
    expect(await metadata.removeRepositoryIfEmpty("team/b")).toBe(true);
    expect(await catalog()).toEqual([]);
    // P's mark arrives late. Taken, it would leave the object registered and the name unlisted.
    await object.markRegistered(older);
    expect(await object.isRegistered()).toBe(false);
    // P's write then finds no registration, registers again, and its repository is listed.
    const app = appOver(metadata);
    expect((await pushImage(app, "team/b", "v1", text('{"b":1}'), [random(1000)])).status).toBe(201);
    expect(await catalog()).toEqual(["team/b"]);
    expect(await object.isRegistered()).toBe(true);
  });

  it("a push that registered in the catalog but had not marked the object when the collector dropped the name registers again, and stays listed", async () => {
    const metadata = newStore();
    const object = env.REPOSITORIES.getByName("team/c");
    const catalogObject = env.CATALOG.getByName("catalog");
    const token = await catalogObject.register("team/c");
    // The collector finds the object empty (it is: nothing marked, nothing written) and drops the name.
    expect(await metadata.removeRepositoryIfEmpty("team/c")).toBe(true);
    expect(await catalog()).toEqual([]);
    // The push's mark arrives: refused, since the drop fenced its token.
    await object.markRegistered(token);
    expect(await object.isRegistered()).toBe(false);
    const app = appOver(metadata);
    expect((await pushImage(app, "team/c", "v1", text('{"c":1}'), [random(1000)])).status).toBe(201);
    expect(await catalog()).toEqual(["team/c"]);
  });

  it("an empty repository left listed by a crash between a deletion's two steps leaves the catalog at the collector's next drop", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "team/d", "v1", text('{"d":1}'), [random(1000)])).status).toBe(201);
    // The object's step only, as a process killed before the catalog's step leaves it.
    const token = await env.CATALOG.getByName("catalog").tokenOf("team/d");
    const wiped = await env.REPOSITORIES.getByName("team/d").deleteRepository("team/d", token ?? null);
    expect(wiped.registered).toBe(true);
    expect(await catalog()).toEqual(["team/d"]);
    expect(await metadata.removeRepositoryIfEmpty("team/d")).toBe(true);
    expect(await catalog()).toEqual([]);
  });

  it("deleting a repository again after a crash between the deletion's steps finishes it (200, unlisted)", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "team/e", "v1", text('{"e":1}'), [random(1000)])).status).toBe(201);
    const token = await env.CATALOG.getByName("catalog").tokenOf("team/e");
    await env.REPOSITORIES.getByName("team/e").deleteRepository("team/e", token ?? null);
    expect(await catalog()).toEqual(["team/e"]);
    expect(await metadata.deleteRepository("team/e")).not.toBeNull();
    expect(await catalog()).toEqual([]);
  });

  it("a push that registered but had not marked the object when a deletion ran registers again, and stays listed", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "team/f", "v1", text('{"f":1}'), [random(1000)])).status).toBe(201);
    const pending = await env.CATALOG.getByName("catalog").register("team/f");
    expect(await metadata.deleteRepository("team/f")).not.toBeNull();
    expect(await catalog()).toEqual([]);
    await env.REPOSITORIES.getByName("team/f").markRegistered(pending);
    expect(await env.REPOSITORIES.getByName("team/f").isRegistered()).toBe(false);
    expect((await pushImage(app, "team/f", "v2", text('{"f":2}'), [random(1000)])).status).toBe(201);
    expect(await catalog()).toEqual(["team/f"]);
  });

  it("an object registered before tokens existed (NULL token, as its catalog entry) is deleted and unlisted", async () => {
    const metadata = newStore();
    const app = appOver(metadata);
    expect((await pushImage(app, "old/app", "v1", text('{"o":1}'), [random(1000)])).status).toBe(201);
    await runInDurableObject(env.REPOSITORIES.getByName("old/app"), (_object, state) => state.storage.sql.exec("UPDATE registration SET token = NULL"));
    await runInDurableObject(env.CATALOG.getByName("catalog"), (_object, state) => state.storage.sql.exec("UPDATE repositories SET token = NULL"));
    const res = await createApp(registryOver(metadata), {
      maintenance: { usage: async () => ({}), collect: async () => ({}), deleteRepository: (name) => metadata.deleteRepository(name) },
    }).request("/admin/repositories/old/app", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await catalog()).toEqual([]);
  });
});
