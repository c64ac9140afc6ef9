/**
 * No answer tells a caller whether another team holds a digest (docs/auth.md).
 * bob may push green/* and read nothing of blue/*; blue/secret holds a blob.
 * Sending wrong bytes under that blob's digest and under a digest held nowhere
 * must give byte-identical answers and do the same storage work in the same
 * order (the timing class: what the request waits for), monolithic with or
 * without Content-Length, and a mount from blue/secret must be a plain upload
 * either way. On memory and on local disk (files + SQLite); inside workerd in
 * test/workers/worker-auth.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { type BlobStore, MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { randomDigest, sha256, streamOf } from "../spec/helpers.ts";
import { basic, bearer, PASSWORDS, teamsConfig } from "./support.ts";

interface Stores {
  blobs: BlobStore;
  metadata: MetadataStore;
  close(): Promise<void>;
}

const backends: { name: string; open(): Promise<Stores> }[] = [
  { name: "memory", open: async () => ({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), close: async () => {} }) },
  {
    name: "local disk (files + SQLite)",
    async open() {
      const root = await mkdtemp(join(tmpdir(), "registry-probe-"));
      const metadata = openLocalMetadata(root);
      return {
        blobs: new FilesystemBlobStore(join(root, "blobs")),
        metadata: metadata.store,
        close: async () => {
          metadata.close();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  },
];

/** Records the name of every store method called while `log` is set. */
function recorded<T extends object>(target: T, prefix: string, log: { calls: string[] | null }): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        log.calls?.push(`${prefix}.${String(property)}`);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** Everything a client sees of an answer. */
async function answer(res: Response): Promise<{ status: number; headers: [string, string][]; body: string }> {
  return { status: res.status, headers: [...res.headers].sort(), body: await res.text() };
}

describe.each(backends)("wrong bytes under a digest another team holds, or one nobody holds ($name)", (backend) => {
  let stores: Stores;
  let request: (path: string, init?: RequestInit) => Promise<Response>;
  const log: { calls: string[] | null } = { calls: null };
  const secret = new TextEncoder().encode("blue's secret layer");
  const held = sha256(secret);
  const wrong = new TextEncoder().encode("bytes that hash to neither digest");
  let bob: Record<string, string>;

  beforeAll(async () => {
    stores = await backend.open();
    const auth = await buildAuth({ ...(await teamsConfig()), signingKeys: [{ jwk: await generateSigningJwk() }] });
    const app = createApp(
      { blobs: recorded(stores.blobs, "blobs", log), metadata: recorded(stores.metadata, "metadata", log), hashing: hashWasm, partSize: MIN_PART_SIZE },
      { auth },
    );
    request = async (path, init) => app.request(path, init?.body instanceof ReadableStream ? ({ ...init, duplex: "half" } as RequestInit) : init);
    const token = async (user: keyof typeof PASSWORDS, scope: string) => {
      const res = await request(`/token?scope=${scope}`, { headers: { authorization: basic(user, PASSWORDS[user]) } });
      return bearer(((await res.json()) as { token: string }).token);
    };
    const alice = await token("alice", "repository:blue/secret:pull,push");
    expect((await request(`/v2/blue/secret/blobs/uploads/?digest=${held}`, { method: "POST", headers: alice, body: secret })).status).toBe(201);
    bob = await token("bob", "repository:green/x:pull,push");
    // bob cannot read blue/secret: the probe has to come from somewhere he may push.
    expect((await request(`/v2/blue/secret/blobs/${held}`, { method: "HEAD", headers: bob })).status).toBe(401);
  });
  afterAll(() => stores.close());

  /** The answer to pushing `wrong` under `digest`, and the store calls made for it. */
  async function probe(digest: string, withLength: boolean) {
    log.calls = [];
    const res = await request(`/v2/green/x/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      headers: withLength ? { ...bob, "content-length": String(wrong.byteLength) } : bob,
      body: withLength ? wrong : streamOf(wrong, 7),
    });
    const seen = await answer(res);
    const calls = log.calls;
    log.calls = null;
    return { answer: seen, calls };
  }

  for (const withLength of [true, false]) {
    it(`answers byte for byte alike and does the same storage work (${withLength ? "with Content-Length" : "chunked, no Content-Length"})`, async () => {
      const known = await probe(held, withLength);
      const unknown = await probe(randomDigest(), withLength);
      expect(known.answer.status).toBe(400);
      expect(JSON.parse(known.answer.body).errors[0].code).toBe("DIGEST_INVALID");
      expect(known.answer).toEqual(unknown.answer);
      expect(known.calls).toEqual(unknown.calls);
      // Nothing was linked to green/x, and blue's blob is untouched.
      expect((await request(`/v2/green/x/blobs/${held}`, { method: "HEAD", headers: bob })).status).toBe(404);
      expect((await stores.metadata.getBlobLink("blue/secret", held))?.digest).toBe(held);
    });
  }

  it("opens a plain upload for a mount from blue/secret, whether it holds the digest or not", async () => {
    const shape = async (digest: string) => {
      const res = await request(`/v2/green/x/blobs/uploads/?mount=${digest}&from=blue/secret`, { method: "POST", headers: bob });
      const seen = await answer(res);
      // The upload's id is new each time; everything else must match.
      const id = res.headers.get("docker-upload-uuid")!;
      return JSON.parse(JSON.stringify(seen).replaceAll(id, "<id>")) as typeof seen;
    };
    const known = await shape(held);
    expect(known.status).toBe(202);
    expect(known).toEqual(await shape(randomDigest()));
    expect((await request(`/v2/green/x/blobs/${held}`, { method: "HEAD", headers: bob })).status).toBe(404);
  });
});
