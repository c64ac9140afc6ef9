/**
 * The BlobStore contract (src/ports/blob-store.ts). Every adapter runs it,
 * on Node or inside workerd, so it (with ./bytes.ts and ./multipart.contract.ts)
 * imports only vitest and the ports.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DigestMismatchError, type BlobStore, type ByteRange } from "../../src/ports/blob-store.ts";
import { bytes, digestOf, expectSameBytes, MiB, readObject, streamOf } from "./bytes.ts";
import { multipartContract } from "./multipart.contract.ts";

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup(): Promise<void>;
}

export function blobStoreContract(name: string, create: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let fixture: BlobStoreFixture;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    function read(key: string, range?: ByteRange): Promise<{ size: number; bytes: Uint8Array }> {
      return readObject(store, key, range);
    }

    async function contentAt(key: string, range?: ByteRange): Promise<Uint8Array> {
      return (await read(key, range)).bytes;
    }

    describe("put, get, head, delete", () => {
      it("returns what a streamed put stored, with its size", async () => {
        const data = bytes(300 * 1024 + 7, 1);
        expect(await store.put("blobs/sha256/aa", streamOf(data, 10_000))).toEqual({ size: data.byteLength });
        const stored = await read("blobs/sha256/aa");
        expect(stored.size).toBe(data.byteLength);
        expectSameBytes(stored.bytes, data);
        expect(await store.head("blobs/sha256/aa")).toEqual({ size: data.byteLength });
      });

      it("accepts a Uint8Array body", async () => {
        const data = bytes(1000, 2);
        await store.put("uploads/u1/tail-3", data);
        expectSameBytes(await contentAt("uploads/u1/tail-3"), data);
      });

      it("stores and returns an empty object", async () => {
        expect(await store.put("blobs/sha256/empty", new Uint8Array())).toEqual({ size: 0 });
        expect(await store.head("blobs/sha256/empty")).toEqual({ size: 0 });
        expect((await contentAt("blobs/sha256/empty")).byteLength).toBe(0);
      });

      it("answers null from get and head for a missing key", async () => {
        expect(await store.get("blobs/sha256/missing")).toBeNull();
        expect(await store.head("blobs/sha256/missing")).toBeNull();
      });

      it("keeps keys that share a prefix apart", async () => {
        await store.put("uploads/u1/tail-1", bytes(10, 1));
        await store.put("uploads/u1/tail-10", bytes(20, 2));
        await store.put("uploads/u10/tail-1", bytes(30, 3));
        expect(await store.head("uploads/u1/tail-1")).toEqual({ size: 10 });
        expect(await store.head("uploads/u1/tail-10")).toEqual({ size: 20 });
        expect(await store.head("uploads/u10/tail-1")).toEqual({ size: 30 });
      });

      it("replaces an existing object on put", async () => {
        await store.put("blobs/chunked/x", bytes(100, 1));
        const replacement = bytes(50, 2);
        await store.put("blobs/chunked/x", replacement);
        expectSameBytes(await contentAt("blobs/chunked/x"), replacement);
      });

      it("deletes an object, and deleting a missing key is not an error", async () => {
        await store.put("uploads/u1/tail-1", bytes(10));
        await store.delete("uploads/u1/tail-1");
        expect(await store.head("uploads/u1/tail-1")).toBeNull();
        expect(await store.get("uploads/u1/tail-1")).toBeNull();
        await expect(store.delete("uploads/u1/tail-1")).resolves.toBeUndefined();
        await expect(store.delete("blobs/sha256/never")).resolves.toBeUndefined();
      });

      it("ranged get returns exactly the range, and the whole object's size", async () => {
        const data = bytes(3 * MiB + 11, 4);
        await store.put("blobs/sha256/ranged", data);
        const ranges = [
          { offset: 0, length: 1 },
          { offset: 5, length: 100 },
          { offset: MiB - 3, length: MiB + 6 },
          { offset: data.byteLength - 1, length: 1 },
          { offset: 0, length: data.byteLength },
        ];
        for (const range of ranges) {
          const stored = await read("blobs/sha256/ranged", range);
          expect(stored.size).toBe(data.byteLength);
          expectSameBytes(stored.bytes, data.subarray(range.offset, range.offset + range.length));
        }
      });

      it("a get's body can be cancelled unread, leaving the object in place", async () => {
        await store.put("blobs/sha256/cancel", bytes(2 * MiB));
        const object = await store.get("blobs/sha256/cancel");
        await object?.body.cancel();
        expect(await store.head("blobs/sha256/cancel")).toEqual({ size: 2 * MiB });
      });
    });

    describe("put with digest and length", () => {
      it("accepts content matching a sha256 digest", async () => {
        const data = bytes(200_000, 5);
        const digest = await digestOf("sha256", data);
        await expect(store.put("blobs/sha256/ok", streamOf(data), { digest, length: data.byteLength })).resolves.toEqual({ size: data.byteLength });
        expectSameBytes(await contentAt("blobs/sha256/ok"), data);
      });

      it("accepts content matching a sha512 digest", async () => {
        const data = bytes(70_000, 6);
        await store.put("blobs/sha512/ok", streamOf(data), { digest: await digestOf("sha512", data) });
        expect(await store.head("blobs/sha512/ok")).toEqual({ size: data.byteLength });
      });

      it("put with a wrong digest throws DigestMismatchError and leaves nothing at the key", async () => {
        const data = bytes(200_000, 7);
        const wrong = await digestOf("sha256", bytes(200_000, 8));
        const failure = store.put("blobs/sha256/bad", streamOf(data), { digest: wrong });
        await expect(failure).rejects.toBeInstanceOf(DigestMismatchError);
        await expect(failure).rejects.toMatchObject({ expected: wrong, actual: await digestOf("sha256", data) });
        expect(await store.head("blobs/sha256/bad")).toBeNull();
        expect(await store.get("blobs/sha256/bad")).toBeNull();
      });

      it("a failed put leaves the object already at the key untouched", async () => {
        const original = bytes(1000, 9);
        await store.put("blobs/sha256/kept", original);
        const other = bytes(2000, 10);
        await expect(store.put("blobs/sha256/kept", streamOf(other), { digest: await digestOf("sha256", original) })).rejects.toBeInstanceOf(DigestMismatchError);
        expectSameBytes(await contentAt("blobs/sha256/kept"), original);
      });

      it("put with fewer bytes than the declared length throws and leaves nothing", async () => {
        await expect(store.put("blobs/sha256/short", streamOf(bytes(1000)), { length: 1001 })).rejects.toThrow();
        expect(await store.head("blobs/sha256/short")).toBeNull();
      });

      it("put with more bytes than the declared length throws and leaves nothing", async () => {
        await expect(store.put("blobs/sha256/long", streamOf(bytes(1000)), { length: 999 })).rejects.toThrow();
        await expect(store.put("blobs/sha256/long", bytes(1000), { length: 999 })).rejects.toThrow();
        expect(await store.head("blobs/sha256/long")).toBeNull();
      });
    });

    multipartContract(() => store);
  });
}
