/** The web interface of a registry without auth: open like the API, but its forms still need the CSRF cookie's token. */
import { describe, expect, it } from "vitest";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { OCI_CONFIG, OCI_MANIFEST, pushBlob, pushManifest, type Send } from "./push.ts";
import { Visitor } from "./visitor.ts";

describe("the web interface of an open registry", () => {
  it("shows everything, offers no sign-in, and deletes only with the visitor's CSRF token", async () => {
    const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE }, { publicUrl: "https://registry.example" });
    const send: Send = async (path, init) => app.request(path, init);
    const config = await pushBlob(send, "team/app", new TextEncoder().encode("{}"), OCI_CONFIG);
    await pushManifest(send, "team/app", "v1", { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });

    const visitor = new Visitor(send);
    const catalog = await visitor.get("/");
    expect(catalog.html).toContain("team/app");
    expect(catalog.html).not.toContain("Sign in");
    const repository = await visitor.get("/ui/r/team/app");
    // publicUrl's host in the pull lines, and no --tls-verify=false for https.
    expect(repository.html).toContain("podman pull registry.example/team/app:v1");
    expect(await send("/ui/sign-in").then((r) => r.headers.get("location"))).toBe("/");

    const csrf = await visitor.csrf("/ui/r/team/app/-/delete?tag=v1");
    expect((await new Visitor(send).post("/ui/r/team/app/-/delete", { tag: "v1", csrf })).status).toBe(403);
    expect((await send("/v2/team/app/manifests/v1")).status).toBe(200);
    expect((await visitor.post("/ui/r/team/app/-/delete", { tag: "v1", csrf })).status).toBe(200);
    expect((await send("/v2/team/app/manifests/v1")).status).toBe(404);
  });
});
