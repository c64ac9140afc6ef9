/**
 * Which documents are manifests, and what they are served as. Every stored
 * manifest is an OCI or Docker schema 2 manifest or index whose references
 * were checked, whatever Content-Type the push came with: a generic type, a
 * wrongly cased one or no type at all leaves the document to say what it is;
 * any other type, and any other `mediaType`, is refused (MANIFEST_INVALID, as
 * distribution does for types it has no handler for). Nothing is served as a
 * type a client chose, and every answer carries `X-Content-Type-Options: nosniff`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  expectOciError,
  imageManifestJson,
  manifestStatus,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushManifestJson,
  putManifest,
  randomDigest,
  uniqueRepo,
  utf8,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("manifest media types ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  /** An image manifest without `mediaType` whose config and layer are in no repository. */
  const dangling = () => ({
    schemaVersion: 2,
    config: { mediaType: OCI_CONFIG, digest: randomDigest(), size: 10 },
    layers: [{ mediaType: OCI_LAYER, digest: randomDigest(), size: 20 }],
  });

  for (const contentType of ["application/json", "application/octet-stream", "application/json; charset=utf-8", "Application/Vnd.OCI.Image.Manifest.v1+JSON", null]) {
    it(`checks the references of a manifest sent as ${contentType ?? "no Content-Type"} (404 MANIFEST_BLOB_UNKNOWN)`, async () => {
      const repo = uniqueRepo("mtype");
      const res = await putManifest(t, repo, "v1", utf8(JSON.stringify(dangling())), contentType);
      await expectOciError(res, 404, "MANIFEST_BLOB_UNKNOWN");
      expect(await manifestStatus(t, repo, "v1")).toBe(404);
    });
  }

  it("checks an index's children whatever the Content-Type: a generic type makes a document with `manifests` an index", async () => {
    const repo = uniqueRepo("mtype");
    const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: randomDigest(), size: 100 }] };
    await expectOciError(await putManifest(t, repo, "v1", utf8(JSON.stringify(index)), "application/json"), 404, "MANIFEST_BLOB_UNKNOWN");
  });

  for (const contentType of ["text/html", "image/svg+xml", "application/xhtml+xml", "text/plain", "application/vnd.example.thing+json"]) {
    it(`refuses a document sent as ${contentType} with 400 MANIFEST_INVALID and stores nothing`, async () => {
      const repo = uniqueRepo("mtype");
      const json = { ...(await imageManifestJson(t, repo)), annotations: { note: "<script>alert(document.domain)</script>" } };
      delete (json as { mediaType?: string }).mediaType;
      const [error] = await expectOciError(await putManifest(t, repo, "v1", utf8(JSON.stringify(json)), contentType), 400, "MANIFEST_INVALID");
      expect(error!.message).toContain("is not a manifest type");
      expect(await manifestStatus(t, repo, "v1")).toBe(404);
    });
  }

  for (const mediaType of ["application/vnd.oci.image.manifest.v1+JSON", "text/html", "application/json", "application/vnd.oci.artifact.manifest.v1+json"]) {
    it(`refuses a body whose mediaType is ${mediaType}, whatever the Content-Type`, async () => {
      const repo = uniqueRepo("mtype");
      const json = { ...(await imageManifestJson(t, repo)), mediaType };
      for (const contentType of [mediaType, "application/json"]) {
        await expectOciError(await putManifest(t, repo, "v1", utf8(JSON.stringify(json)), contentType), 400, "MANIFEST_INVALID");
      }
      expect(await manifestStatus(t, repo, "v1")).toBe(404);
    });
  }

  it("stores a manifest sent with a generic or wrongly cased Content-Type under its real type, and serves that type with nosniff", async () => {
    const repo = uniqueRepo("mtype");
    const json = await imageManifestJson(t, repo);
    delete (json as { mediaType?: string }).mediaType;
    for (const [tag, contentType] of [["generic", "application/json"], ["cased", "Application/Vnd.OCI.Image.Manifest.v1+JSON"], ["none", null]] as const) {
      const bytes = utf8(JSON.stringify(json));
      const put = await putManifest(t, repo, tag, bytes, contentType);
      expect(put.status, await put.text()).toBe(201);
      const res = await t.request(`/v2/${repo}/manifests/${tag}`);
      expect(res.headers.get("content-type")).toBe(OCI_MANIFEST);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      await res.arrayBuffer();
    }
    const index = await pushManifestJson(t, repo, { schemaVersion: 2, manifests: [] }, "index", "application/json");
    const res = await t.request(`/v2/${repo}/manifests/index`, { method: "HEAD" });
    expect(res.headers.get("content-type")).toBe(OCI_INDEX);
    expect(res.headers.get("docker-content-digest")).toBe(index.digest);
  });

  it("sends nosniff on every kind of answer", async () => {
    const repo = uniqueRepo("mtype");
    const answers = [
      await t.request("/v2/"),
      await t.request(`/v2/${repo}/manifests/missing`),
      await t.request(`/v2/${repo}/blobs/${randomDigest()}`),
      await t.request(`/v2/${repo}/tags/list`),
      await t.request("/v2/no/such/endpoint/at/all"),
      await putManifest(t, repo, "v1", "not json", "text/html"),
    ];
    for (const res of answers) {
      expect(res.headers.get("x-content-type-options"), `${res.status} ${res.url}`).toBe("nosniff");
      await res.arrayBuffer();
    }
  });
});
