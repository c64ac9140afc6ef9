import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  bytesOf,
  concat,
  descriptorOf,
  descriptorOfManifest,
  DOCKER_CONFIG,
  DOCKER_LAYER,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  encodeManifest,
  expectDigestHeader,
  expectOciError,
  headerValues,
  imageManifestJson,
  listTags,
  manifestStatus,
  MiB,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifestJson,
  putManifest,
  randomBytes,
  randomDigest,
  sha256,
  sha512,
  toPath,
  uniqueRepo,
  utf8,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("manifest push ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  /** Pulls `reference` and checks it is exactly what was pushed. */
  async function expectManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string, digest = sha256(bytes)): Promise<void> {
    const res = await t.request(`/v2/${repo}/manifests/${reference}`, { headers: { accept: mediaType } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(mediaType);
    expectDigestHeader(res, digest, bytes);
    expect(res.headers.get("content-length")).toBe(String(bytes.length));
    expect(await bytesOf(res)).toEqual(bytes);
  }

  describe("spec § Pushing Manifests (end-7)", () => {
    it("answers PUT by tag with 201, a pullable Location and Docker-Content-Digest of the bytes", async () => {
      const repo = uniqueRepo("mpush");
      const json = await imageManifestJson(t, repo);
      const bytes = encodeManifest(json);
      const res = await putManifest(t, repo, "v1", bytes);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expect(res.headers.get("docker-content-digest")).toBe(sha256(bytes));
      const location = res.headers.get("location");
      expect(location).toBeTruthy();
      const pulled = await t.request(toPath(location!));
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(bytes);
    });

    it("answers PUT by digest with 201 and Docker-Content-Digest equal to the client digest", async () => {
      const repo = uniqueRepo("mpush");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const digest = sha256(bytes);
      const res = await putManifest(t, repo, digest, bytes);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect(res.headers.get("location")).toBeTruthy();
      await expectManifest(repo, digest, bytes, OCI_MANIFEST);
    });

    it("stores the exact byte representation (whitespace, key order, trailing newline)", async () => {
      const repo = uniqueRepo("mpush");
      const json = await imageManifestJson(t, repo);
      const text = `{ "layers" :${JSON.stringify(json.layers)},\n\t"schemaVersion":2,   "config": ${JSON.stringify(json.config)} ,"mediaType":"${OCI_MANIFEST}"}\n`;
      const bytes = utf8(text);
      const res = await putManifest(t, repo, "exact", bytes);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      await expectManifest(repo, "exact", bytes, OCI_MANIFEST);
      await expectManifest(repo, sha256(bytes), bytes, OCI_MANIFEST);
    });

    it("answers 400 DIGEST_INVALID when the bytes do not hash to the digest reference, and stores nothing", async () => {
      const repo = uniqueRepo("mpush");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const digest = sha256(bytes);
      const padded = concat(bytes, utf8("  "));
      await expectOciError(await putManifest(t, repo, digest, padded), 400, "DIGEST_INVALID");
      expect(await manifestStatus(t, repo, digest)).toBe(404);
      expect(await manifestStatus(t, repo, sha256(padded))).toBe(404);
    });

    it("answers 400 to a PUT by the malformed digest sha256:baddigeststring", async () => {
      const repo = uniqueRepo("mpush");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      await expectOciError(await putManifest(t, repo, "sha256:baddigeststring", bytes), 400, ["DIGEST_INVALID", "MANIFEST_INVALID"]);
      expect(await manifestStatus(t, repo, sha256(bytes))).toBe(404);
    });

    it("answers 400 MANIFEST_INVALID to a body that is not JSON", async () => {
      const repo = uniqueRepo("mpush");
      await expectOciError(await putManifest(t, repo, "broken", `{"schemaVersion": 2, "mediaType": "${OCI_MANIFEST}", "config": `), 400, "MANIFEST_INVALID");
      expect(await manifestStatus(t, repo, "broken")).toBe(404);
    });

    it("accepts a manifest with unknown extra fields", async () => {
      const repo = uniqueRepo("mpush");
      const json = { ...(await imageManifestJson(t, repo)), "org.example.custom": { nested: [1, 2, 3] } };
      const pushed = await pushManifestJson(t, repo, json, "custom");
      await expectManifest(repo, "custom", pushed.bytes, OCI_MANIFEST);
    });

    it("accepts a manifest pushed by a sha512 digest and serves it by that digest", async () => {
      const repo = uniqueRepo("mpush");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const digest = sha512(bytes);
      const res = await putManifest(t, repo, digest, bytes);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      await expectManifest(repo, digest, bytes, OCI_MANIFEST, digest);
    });
  });

  describe("spec § Push: MANIFEST_BLOB_UNKNOWN for missing references", () => {
    it("answers 404 MANIFEST_BLOB_UNKNOWN when the config blob was never pushed", async () => {
      const repo = uniqueRepo("mblob");
      const json = await imageManifestJson(t, repo);
      json.config = descriptorOf(OCI_CONFIG, randomBytes(30));
      await expectOciError(await putManifest(t, repo, "v1", encodeManifest(json)), 404, "MANIFEST_BLOB_UNKNOWN");
      expect(await manifestStatus(t, repo, "v1")).toBe(404);
    });

    it("answers 404 MANIFEST_BLOB_UNKNOWN when a layer blob was never pushed", async () => {
      const repo = uniqueRepo("mblob");
      const json = await imageManifestJson(t, repo);
      json.layers = [...(json.layers as unknown[]), descriptorOf(OCI_LAYER, randomBytes(30))];
      await expectOciError(await putManifest(t, repo, "v1", encodeManifest(json)), 404, "MANIFEST_BLOB_UNKNOWN");
      expect(await manifestStatus(t, repo, "v1")).toBe(404);
    });

    it("answers 404 MANIFEST_BLOB_UNKNOWN when a layer exists only in another repository", async () => {
      const repo = uniqueRepo("mblob");
      const other = uniqueRepo("mblob");
      const layer = randomBytes(40);
      await pushBlob(t, other, layer);
      const json = await imageManifestJson(t, repo);
      json.layers = [descriptorOf(OCI_LAYER, layer)];
      await expectOciError(await putManifest(t, repo, "v1", encodeManifest(json)), 404, "MANIFEST_BLOB_UNKNOWN");
    });

    it("answers 404 MANIFEST_BLOB_UNKNOWN when an index refers to a child manifest that was never pushed", async () => {
      const repo = uniqueRepo("mblob");
      const child = await pushImage(t, repo);
      const json = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [descriptorOfManifest(child), { mediaType: OCI_MANIFEST, digest: randomDigest(), size: 500 }],
      };
      await expectOciError(await putManifest(t, repo, "idx", encodeManifest(json), OCI_INDEX), 404, "MANIFEST_BLOB_UNKNOWN");
      expect(await manifestStatus(t, repo, "idx")).toBe(404);
    });

    it("accepts non-distributable layers with urls that were never pushed (conformance 'non-distributable-layers')", async () => {
      const repo = uniqueRepo("mblob");
      const json = await imageManifestJson(t, repo);
      json.layers = [
        ...(json.layers as unknown[]),
        {
          mediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
          digest: randomDigest(),
          size: 12345,
          urls: ["https://example.com/layer.tar.gz"],
        },
      ];
      await pushManifestJson(t, repo, json, "foreign");
    });
  });

  describe("spec § Pushing Manifests with Subject", () => {
    it("accepts a manifest whose subject does not exist and answers OCI-Subject with its digest", async () => {
      const repo = uniqueRepo("subject");
      const subject = { mediaType: OCI_MANIFEST, digest: randomDigest(), size: 1234 };
      const json = await imageManifestJson(t, repo, { artifactType: "application/vnd.example.sig.v1", subject });
      const pushed = await pushManifestJson(t, repo, json);
      expect(pushed.res.headers.get("oci-subject")).toBe(subject.digest);
      expect(await manifestStatus(t, repo, pushed.digest)).toBe(200);
    });

    it("answers OCI-Subject on an image index with a subject", async () => {
      const repo = uniqueRepo("subject");
      const subject = await pushImage(t, repo);
      const child = await pushImage(t, repo);
      const index = await pushIndex(t, repo, [descriptorOfManifest(child)], { subject: descriptorOfManifest(subject), artifactType: "application/vnd.example.bundle.v1" });
      expect(index.res.headers.get("oci-subject")).toBe(subject.digest);
    });
  });

  describe("spec § Pushing Manifests: size limit", () => {
    it("accepts a 3.9 MB manifest and serves the exact bytes", async () => {
      const repo = uniqueRepo("size");
      const annotations: Record<string, string> = {};
      for (let i = 0; i < 390; i++) annotations[`org.example.large.${i}`] = "a".repeat(10_000);
      const json = await imageManifestJson(t, repo, { annotations });
      const pushed = await pushManifestJson(t, repo, json, "large");
      expect(pushed.size).toBeGreaterThan(3_900_000);
      expect(pushed.size).toBeLessThan(4 * MiB);
      await expectManifest(repo, "large", pushed.bytes, OCI_MANIFEST);
    });

    it("answers 413 to a manifest over 4 MiB and stores nothing", async () => {
      const repo = uniqueRepo("size");
      const json = await imageManifestJson(t, repo, { annotations: { "org.example.huge": "a".repeat(4 * MiB) } });
      const bytes = encodeManifest(json);
      await expectOciError(await putManifest(t, repo, "huge", bytes), 413, ["MANIFEST_INVALID", "SIZE_INVALID"]);
      expect(await manifestStatus(t, repo, "huge")).toBe(404);
      expect(await manifestStatus(t, repo, sha256(bytes))).toBe(404);
    });
  });

  describe("spec § Pushing Manifests: media types", () => {
    it("accepts a Docker schema2 manifest and serves it with its media type", async () => {
      const repo = uniqueRepo("docker");
      const config = utf8(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
      const layer = randomBytes(200);
      await pushBlob(t, repo, config);
      await pushBlob(t, repo, layer);
      const json = { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: descriptorOf(DOCKER_CONFIG, config), layers: [descriptorOf(DOCKER_LAYER, layer)] };
      const pushed = await pushManifestJson(t, repo, json, "docker");
      await expectManifest(repo, "docker", pushed.bytes, DOCKER_MANIFEST);
    });

    it("accepts a Docker manifest list and serves it with its media type", async () => {
      const repo = uniqueRepo("docker");
      const config = utf8(JSON.stringify({ architecture: "arm64", os: "linux" }));
      const layer = randomBytes(100);
      await pushBlob(t, repo, config);
      await pushBlob(t, repo, layer);
      const child = await pushManifestJson(t, repo, { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: descriptorOf(DOCKER_CONFIG, config), layers: [descriptorOf(DOCKER_LAYER, layer)] });
      const list = {
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST_LIST,
        manifests: [{ mediaType: DOCKER_MANIFEST, digest: child.digest, size: child.size, platform: { architecture: "arm64", os: "linux" } }],
      };
      const pushed = await pushManifestJson(t, repo, list, "multi");
      await expectManifest(repo, "multi", pushed.bytes, DOCKER_MANIFEST_LIST);
    });

    it("accepts an OCI image index and an index of indexes", async () => {
      const repo = uniqueRepo("index");
      const a = await pushImage(t, repo);
      const b = await pushImage(t, repo);
      const inner = await pushIndex(t, repo, [descriptorOfManifest(a), descriptorOfManifest(b)]);
      const outer = await pushIndex(t, repo, [descriptorOfManifest(inner)], { tag: "nested" });
      await expectManifest(repo, "nested", outer.bytes, OCI_INDEX);
      await expectManifest(repo, inner.digest, inner.bytes, OCI_INDEX);
    });

    it("accepts an empty image index", async () => {
      const repo = uniqueRepo("index");
      const pushed = await pushIndex(t, repo, [], { tag: "empty" });
      await expectManifest(repo, "empty", pushed.bytes, OCI_INDEX);
    });

    it("accepts an artifact manifest with artifactType and the empty config", async () => {
      const repo = uniqueRepo("artifact");
      const payload = randomBytes(128);
      await pushBlob(t, repo, EMPTY_JSON);
      await pushBlob(t, repo, payload);
      const json = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.thing.v1",
        config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2, data: "e30=" },
        layers: [descriptorOf("application/vnd.example.thing.layer.v1", payload)],
      };
      const pushed = await pushManifestJson(t, repo, json, "artifact");
      await expectManifest(repo, "artifact", pushed.bytes, OCI_MANIFEST);
    });

    it("accepts an artifact manifest without layers", async () => {
      const repo = uniqueRepo("artifact");
      await pushBlob(t, repo, EMPTY_JSON);
      const json = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.nolayers.v1",
        config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 },
        layers: [],
      };
      await pushManifestJson(t, repo, json, "bare");
    });
  });

  describe("[main] spec § Pushing Manifests with tags (end-7b)", () => {
    it("answers PUT /manifests/<digest>?tag=a&tag=b with 201 and one OCI-Tag value per tag", async () => {
      const repo = uniqueRepo("tagparam");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const digest = sha256(bytes);
      const res = await putManifest(t, repo, digest, bytes, OCI_MANIFEST, "?tag=a&tag=b&tag=1.0");
      const text = await res.text();
      expect(res.status, text).toBe(201);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect(headerValues(res, "oci-tag").sort()).toEqual(["1.0", "a", "b"]);
      for (const tag of ["a", "b", "1.0"]) await expectManifest(repo, tag, bytes, OCI_MANIFEST);
      expect((await listTags(t, repo)).tags).toEqual(["1.0", "a", "b"]);
    });

    it("tags a manifest pushed by a sha512 digest through ?tag=", async () => {
      const repo = uniqueRepo("tagparam");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const digest = sha512(bytes);
      const res = await putManifest(t, repo, digest, bytes, OCI_MANIFEST, "?tag=sha512-tag");
      const text = await res.text();
      expect(res.status, text).toBe(201);
      expect(headerValues(res, "oci-tag")).toEqual(["sha512-tag"]);
      const pulled = await t.request(`/v2/${repo}/manifests/sha512-tag`);
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(bytes);
    });
  });
});
