/**
 * Racing requests on one upload, through the upload engine (src/core/uploads.ts), against a
 * real blob store and metadata store. Every blob store runs it: memory and filesystem on Node
 * (./memory.test.ts, ./filesystem.test.ts), R2 with Durable Objects inside workerd
 * (test/workers/upload-races.test.ts), S3 (Ceph RGW) with DynamoDB (test/aws/contract.test.ts).
 *
 * Each racer is a separate `Uploads` engine over its own blob-store adapter (a separate
 * process's view of the same bucket or directory: on the filesystem, its own in-process
 * locks), sharing only the metadata store, whose conditional `updateUpload` is the one thing
 * processes share. A barrier makes both racers read the upload record before either goes
 * on, so they always race from the same version (the case a retrying client creates).
 *
 * Imports only vitest, the ports and the core, so it runs on Node and inside workerd.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Uploads } from "../../src/core/uploads.ts";
import { RegistryError } from "../../src/core/errors.ts";
import type { BlobStore } from "../../src/ports/blob-store.ts";
import type { Hashing } from "../../src/ports/hashing.ts";
import type { BlobInfo, MetadataStore, UploadRecord } from "../../src/ports/metadata-store.ts";
import { bytes, concat, digestOf, expectSameBytes, MiB, readObject, streamOf } from "./bytes.ts";

export interface UploadRacesFixture {
  metadata: MetadataStore;
  /** A blob-store adapter over the shared storage; each call is another process's adapter. */
  blobStore(): BlobStore;
  hashing: Hashing;
  cleanup(): Promise<void>;
}

/** The registry's default part size: the sizes below are the ones in the report. */
const PART_SIZE = 8 * MiB;

export function uploadRacesContract(name: string, create: () => Promise<UploadRacesFixture>): void {
  describe(`racing requests on one upload: ${name}`, () => {
    let fixture: UploadRacesFixture;
    let gate: ReadGate;

    beforeEach(async () => {
      fixture = await create();
      gate = new ReadGate(fixture.metadata);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    /** An engine as one process (or Worker isolate, or Lambda) would build it. */
    function engine(): Uploads {
      return new Uploads({
        blobs: fixture.blobStore(),
        metadata: gate.store,
        hashing: fixture.hashing,
        partSize: PART_SIZE,
        now: Date.now,
        newId: () => crypto.randomUUID(),
      });
    }

    const chunk = (data: Uint8Array, start: number) => ({
      body: streamOf(data),
      length: data.byteLength,
      range: { start, end: start + data.byteLength - 1 },
    });

    async function readBlob(info: BlobInfo): Promise<Uint8Array> {
      return (await readObject(fixture.blobStore(), info.key)).bytes;
    }

    it("two identical PATCHes racing at one offset: one is accepted, one gets 416, and the PUT makes the right blob", async () => {
      const repository = "race/patches";
      const [first, second] = [engine(), engine()];
      const upload = await first.start(repository);
      const head = bytes(8 * MiB + 1000, 1);
      await first.append(repository, upload.id, chunk(head, 0));

      // A client retrying a PATCH it thinks was lost sends the same bytes with the same Content-Range.
      const retried = bytes(8 * MiB + 5000, 2);
      gate.hold(2);
      const results = await Promise.allSettled([
        first.append(repository, upload.id, chunk(retried, head.byteLength)),
        second.append(repository, upload.id, chunk(retried, head.byteLength)),
      ]);
      const accepted = results.filter((r): r is PromiseFulfilledResult<UploadRecord> => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(accepted).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.reason).toBeInstanceOf(RegistryError);
      expect((refused[0]!.reason as RegistryError).status).toBe(416);
      const received = head.byteLength + retried.byteLength;
      expect(accepted[0]!.value.received).toBe(received);

      const whole = concat(head, retried) as Uint8Array<ArrayBuffer>;
      const digest = await digestOf("sha256", whole);
      // Either engine may finish; each is another process.
      const info = await second.finish(repository, upload.id, digest, { body: null });
      expect(info).toMatchObject({ digest, size: received });
      expectSameBytes(await readBlob(info), whole);
    });

    it("two PATCHes of different bytes racing at one offset: the blob is made of the accepted one's bytes", async () => {
      // S3 and R2 part ETags are MD5s of the bytes, so identical racers cannot tell their
      // parts apart there; different bytes at one offset (two clients, or a client whose
      // retry re-reads a changed source) show whether the loser wrote over the winner.
      const repository = "race/different";
      const [first, second] = [engine(), engine()];
      const upload = await first.start(repository);
      const head = bytes(8 * MiB + 1000, 5);
      await first.append(repository, upload.id, chunk(head, 0));

      const candidates = [bytes(8 * MiB + 5000, 6), bytes(8 * MiB + 5000, 7)];
      gate.hold(2);
      const results = await Promise.allSettled([
        first.append(repository, upload.id, chunk(candidates[0]!, head.byteLength)),
        second.append(repository, upload.id, chunk(candidates[1]!, head.byteLength)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      const refused = results.find((r): r is PromiseRejectedResult => r.status === "rejected")!;
      expect((refused.reason as RegistryError).status).toBe(416);

      const whole = concat(head, candidates[results[0]!.status === "fulfilled" ? 0 : 1]!) as Uint8Array<ArrayBuffer>;
      const digest = await digestOf("sha256", whole);
      const info = await first.finish(repository, upload.id, digest, { body: null });
      expect(info).toMatchObject({ digest, size: whole.byteLength });
      expectSameBytes(await readBlob(info), whole);
    });

    it("two finishing PUTs of one upload: one makes the blob, the other gets 404 or 416, never a server error", async () => {
      const repository = "race/finishes";
      const [first, second] = [engine(), engine()];
      const upload = await first.start(repository);
      const data = bytes(PART_SIZE + 3000, 3);
      await first.append(repository, upload.id, chunk(data, 0));
      const digest = await digestOf("sha256", data);

      gate.hold(2);
      const results = await Promise.allSettled([
        first.finish(repository, upload.id, digest, { body: null }),
        second.finish(repository, upload.id, digest, { body: null }),
      ]);
      const made = results.filter((r): r is PromiseFulfilledResult<BlobInfo> => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(made).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.reason).toBeInstanceOf(RegistryError);
      expect([404, 416]).toContain((refused[0]!.reason as RegistryError).status);

      const info = made[0]!.value;
      expect(await gate.store.getBlob(digest)).toEqual(info);
      expect(await gate.store.getBlobLink(repository, digest)).toEqual(info);
      expectSameBytes(await readBlob(info), data);
      expect(await gate.store.getUpload(repository, upload.id)).toBeNull();
    });

    it("two uploads of one blob finishing at once: both succeed, and only the indexed copy is kept", async () => {
      const repository = "race/same-blob";
      const [first, second] = [engine(), engine()];
      const data = bytes(PART_SIZE + 4000, 4);
      const digest = await digestOf("sha256", data);
      const uploads = [await first.start(repository), await second.start(repository)];
      await first.append(repository, uploads[0]!.id, chunk(data, 0));
      await second.append(repository, uploads[1]!.id, chunk(data, 0));

      // Both find the digest not yet stored.
      gate.hold(2, "getBlob");
      const infos = await Promise.all([
        first.finish(repository, uploads[0]!.id, digest, { body: null }),
        second.finish(repository, uploads[1]!.id, digest, { body: null }),
      ]);
      const indexed = await gate.store.getBlob(digest);
      expect(indexed).not.toBeNull();
      expect(infos).toEqual([indexed, indexed]);
      expectSameBytes(await readBlob(indexed!), data);
      const assembled = uploads.map((u) => `blobs/chunked/${u.id}`);
      const leftBehind = assembled.filter((key) => key !== indexed!.key);
      expect(leftBehind).toHaveLength(1);
      expect(await fixture.blobStore().head(leftBehind[0]!)).toBeNull();
    });
  });
}

/**
 * Wraps a metadata store so that, once armed with `hold(n, method)`, the next `n` calls of
 * `method` (upload reads by default) each wait until all `n` have answered: the racers then
 * go on from the same state.
 */
class ReadGate {
  readonly store: MetadataStore;
  #waiting = 0;
  #method: keyof MetadataStore = "getUpload";
  #release: (() => void) | null = null;
  #opened: Promise<void> = Promise.resolve();

  constructor(inner: MetadataStore) {
    const gate = this;
    this.store = new Proxy(inner, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property !== gate.#method) return value.bind(target);
        return async (...args: unknown[]) => {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          await gate.#pass();
          return result;
        };
      },
    });
  }

  hold(parties: number, method: "getUpload" | "getBlob" = "getUpload"): void {
    this.#method = method;
    this.#waiting = parties;
    this.#opened = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  async #pass(): Promise<void> {
    if (this.#waiting === 0) return;
    this.#waiting -= 1;
    if (this.#waiting === 0) this.#release?.();
    await this.#opened;
  }
}
