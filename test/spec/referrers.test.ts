import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  descriptorOfManifest,
  expectOciError,
  OCI_INDEX,
  OCI_MANIFEST,
  pushArtifact,
  pushImage,
  pushIndex,
  randomDigest,
  uniqueRepo,
  type Descriptor,
  type PushedManifest,
  type RegistryTarget,
} from "./helpers.ts";

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const SBOM = "application/vnd.example.sbom.v1";
const SIGNATURE = "application/vnd.example.signature.v1";
const BUNDLE = "application/vnd.example.bundle.v1";
const CUSTOM_CONFIG = "application/vnd.example.config.v1+json";
const ANNOTATION = "org.opencontainers.conformance.test";

describe.each(targetFactories)("referrers ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  async function referrers(repo: string, digest: string, query = ""): Promise<{ res: Response; index: ReferrersIndex }> {
    const res = await t.request(`/v2/${repo}/referrers/${digest}${query}`);
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(200);
    expect(res.headers.get("content-type")).toBe(OCI_INDEX);
    const index = JSON.parse(text) as ReferrersIndex;
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(Array.isArray(index.manifests)).toBe(true);
    return { res, index };
  }

  const byDigest = (index: ReferrersIndex, m: PushedManifest): Descriptor | undefined => index.manifests.find((d) => d.digest === m.digest);

  describe("spec § Listing Referrers (end-12a): no referrers", () => {
    it("answers 200 with an empty index, not 404, for a subject with no referrers", async () => {
      const repo = uniqueRepo("referrers");
      const subject = await pushImage(t, repo);
      const { index } = await referrers(repo, subject.digest);
      expect(index.manifests).toEqual([]);
    });

    it("answers 200 with an empty index for a digest in a repository that does not exist", async () => {
      const { index } = await referrers(uniqueRepo("never-pushed"), randomDigest());
      expect(index.manifests).toEqual([]);
    });

    it("answers 400 to a digest with invalid syntax", async () => {
      const repo = uniqueRepo("referrers");
      await pushImage(t, repo);
      const res = await t.request(`/v2/${repo}/referrers/sha256:not-a-digest`);
      expect(res.status).toBe(400);
      await expectOciError(res, 400);
    });
  });

  describe("spec § Listing Referrers (end-12a): descriptors", () => {
    let repo: string;
    let subject: PushedManifest;
    let sbom: PushedManifest;
    let signature: PushedManifest;
    let configTyped: PushedManifest;
    let typedIndex: PushedManifest;
    let untypedIndex: PushedManifest;
    let elsewhere: PushedManifest;

    beforeAll(async () => {
      repo = uniqueRepo("referrers");
      subject = await pushImage(t, repo, { tag: "subject" });
      const s = descriptorOfManifest(subject);
      sbom = await pushArtifact(t, repo, SBOM, { subject: s, annotations: { [ANNOTATION]: "sbom", "org.example.format": "json" } });
      signature = await pushArtifact(t, repo, SIGNATURE, { subject: s, annotations: { [ANNOTATION]: "sig" } });
      configTyped = await pushImage(t, repo, { subject: s, configMediaType: CUSTOM_CONFIG, annotations: { [ANNOTATION]: "config" } });
      const child = await pushImage(t, repo);
      typedIndex = await pushIndex(t, repo, [descriptorOfManifest(child)], { subject: s, artifactType: BUNDLE, annotations: { [ANNOTATION]: "index" } });
      untypedIndex = await pushIndex(t, repo, [descriptorOfManifest(child)], { subject: s, annotations: { [ANNOTATION]: "plain-index" } });
      // Same subject, other repository: must not be listed here.
      const other = uniqueRepo("referrers");
      elsewhere = await pushArtifact(t, other, SBOM, { subject: s });
    });

    it("lists every manifest and index whose subject is the digest, and nothing else", async () => {
      const { index } = await referrers(repo, subject.digest);
      const digests = index.manifests.map((d) => d.digest).sort();
      expect(digests).toEqual([sbom, signature, configTyped, typedIndex, untypedIndex].map((m) => m.digest).sort());
      expect(byDigest(index, elsewhere)).toBeUndefined();
      expect(byDigest(index, subject)).toBeUndefined();
    });

    it("gives each descriptor mediaType, size, digest, the manifest's artifactType and its annotations", async () => {
      const { index } = await referrers(repo, subject.digest);
      expect(byDigest(index, sbom)).toMatchObject({
        mediaType: OCI_MANIFEST,
        size: sbom.size,
        digest: sbom.digest,
        artifactType: SBOM,
        annotations: { [ANNOTATION]: "sbom", "org.example.format": "json" },
      });
      expect(byDigest(index, signature)).toMatchObject({ mediaType: OCI_MANIFEST, size: signature.size, artifactType: SIGNATURE, annotations: { [ANNOTATION]: "sig" } });
    });

    it("sets artifactType to config.mediaType for an image manifest without artifactType", async () => {
      const { index } = await referrers(repo, subject.digest);
      expect(byDigest(index, configTyped)).toMatchObject({
        mediaType: OCI_MANIFEST,
        size: configTyped.size,
        artifactType: CUSTOM_CONFIG,
        annotations: { [ANNOTATION]: "config" },
      });
    });

    it("lists an index referrer with its artifactType, and omits artifactType for an index without one", async () => {
      const { index } = await referrers(repo, subject.digest);
      expect(byDigest(index, typedIndex)).toMatchObject({ mediaType: OCI_INDEX, size: typedIndex.size, artifactType: BUNDLE, annotations: { [ANNOTATION]: "index" } });
      const plain = byDigest(index, untypedIndex);
      expect(plain).toMatchObject({ mediaType: OCI_INDEX, size: untypedIndex.size, annotations: { [ANNOTATION]: "plain-index" } });
      expect(plain).not.toHaveProperty("artifactType");
    });

    it("filters on ?artifactType= and answers OCI-Filters-Applied: artifactType", async () => {
      const { res, index } = await referrers(repo, subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
      expect(res.headers.get("oci-filters-applied")).toBe("artifactType");
      expect(index.manifests.map((d) => d.digest)).toEqual([sbom.digest]);
    });

    it("filters on a config media type used as artifactType", async () => {
      const { res, index } = await referrers(repo, subject.digest, `?artifactType=${encodeURIComponent(CUSTOM_CONFIG)}`);
      expect(res.headers.get("oci-filters-applied")).toBe("artifactType");
      expect(index.manifests.map((d) => d.digest)).toEqual([configTyped.digest]);
    });

    it("answers an empty filtered index when no referrer has the artifactType", async () => {
      const { res, index } = await referrers(repo, subject.digest, `?artifactType=${encodeURIComponent("application/vnd.example.none")}`);
      expect(res.headers.get("oci-filters-applied")).toBe("artifactType");
      expect(index.manifests).toEqual([]);
    });
  });

  describe("spec § Listing Referrers: subject pushed later, and deletes", () => {
    it("lists referrers pushed before their subject exists", async () => {
      const repo = uniqueRepo("referrers");
      // A real manifest, but in another repository: `repo` has never seen its digest.
      const subject = await pushImage(t, uniqueRepo("scratch"));
      const referrer = await pushArtifact(t, repo, SBOM, { subject: descriptorOfManifest(subject) });
      const { index } = await referrers(repo, subject.digest);
      expect(index.manifests.map((d) => d.digest)).toEqual([referrer.digest]);
    });

    it("removes a referrer from the list once it is deleted", async () => {
      const repo = uniqueRepo("referrers");
      const subject = await pushImage(t, repo);
      const keep = await pushArtifact(t, repo, SBOM, { subject: descriptorOfManifest(subject) });
      const gone = await pushArtifact(t, repo, SIGNATURE, { subject: descriptorOfManifest(subject) });
      expect((await referrers(repo, subject.digest)).index.manifests).toHaveLength(2);
      const del = await t.request(`/v2/${repo}/manifests/${gone.digest}`, { method: "DELETE" });
      await del.arrayBuffer();
      expect(del.status).toBe(202);
      const after = await referrers(repo, subject.digest);
      expect(after.index.manifests.map((d) => d.digest)).toEqual([keep.digest]);
    });
  });
});
