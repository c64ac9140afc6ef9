import { afterAll, beforeAll, describe, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  descriptorOf,
  encodeManifest,
  expectOciError,
  imageManifestJson,
  MiB,
  OCI_LAYER,
  patchChunk,
  pushImage,
  putManifest,
  putUpload,
  randomBytes,
  randomDigest,
  sha256,
  startUpload,
  uniqueRepo,
  type PushedManifest,
  type RegistryTarget,
} from "./helpers.ts";

type Scenario = [name: string, status: number, run: (t: RegistryTarget, repo: string, image: PushedManifest) => Promise<Response>];

/** One request per error path; each must answer the spec's error body with a code from its table. */
const scenarios: Scenario[] = [
  ["GET of an unknown blob", 404, (t, repo) => t.request(`/v2/${repo}/blobs/${randomDigest()}`)],
  ["DELETE of an unknown blob", 404, (t, repo) => t.request(`/v2/${repo}/blobs/${randomDigest()}`, { method: "DELETE" })],
  ["GET of an unknown manifest", 404, (t, repo) => t.request(`/v2/${repo}/manifests/${randomDigest()}`)],
  ["GET of an unknown tag", 404, (t, repo) => t.request(`/v2/${repo}/manifests/nope`)],
  ["DELETE of an unknown manifest", 404, (t, repo) => t.request(`/v2/${repo}/manifests/${randomDigest()}`, { method: "DELETE" })],
  ["tags list of an unknown repository", 404, (t) => t.request(`/v2/${uniqueRepo("never-pushed")}/tags/list`)],
  ["GET of an unknown upload session", 404, (t, repo) => t.request(`/v2/${repo}/blobs/uploads/00000000-0000-4000-8000-000000000000`)],
  ["manifest PUT of invalid JSON", 400, (t, repo) => putManifest(t, repo, "bad", "{")],
  [
    "manifest PUT with a missing layer",
    404,
    async (t, repo) => {
      const json = await imageManifestJson(t, repo);
      json.layers = [descriptorOf(OCI_LAYER, randomBytes(9))];
      return putManifest(t, repo, "missing", encodeManifest(json));
    },
  ],
  ["manifest PUT whose digest reference does not match", 400, (t, repo, image) => putManifest(t, repo, randomDigest(), image.bytes)],
  [
    "manifest PUT over 4 MiB",
    413,
    async (t, repo) => putManifest(t, repo, "huge", encodeManifest(await imageManifestJson(t, repo, { annotations: { huge: "h".repeat(4 * MiB + 1) } }))),
  ],
  [
    "closing PUT with the wrong digest",
    400,
    async (t, repo) => {
      const { location } = await startUpload(t, repo);
      return putUpload(t, location, sha256(randomBytes(4)), randomBytes(4));
    },
  ],
  [
    "out-of-order PATCH",
    416,
    async (t, repo) => {
      const { location } = await startUpload(t, repo);
      return patchChunk(t, location, randomBytes(4), 100);
    },
  ],
  ["referrers of a malformed digest", 400, (t, repo) => t.request(`/v2/${repo}/referrers/sha256:zzz`)],
];

describe.each(targetFactories)("error bodies ($name)", (factory) => {
  let t: RegistryTarget;
  let repo: string;
  let image: PushedManifest;
  beforeAll(async () => {
    t = await factory.start();
    repo = uniqueRepo("errors");
    image = await pushImage(t, repo, { tag: "present" });
  });
  afterAll(() => t.close());

  describe("spec § Error Codes: {\"errors\":[{code,message,detail}]} with a code from the table", () => {
    for (const [name, status, run] of scenarios) {
      it(`answers ${name} with ${status} and a spec error body`, async () => {
        await expectOciError(await run(t, repo, image), status);
      });
    }
  });
});
