/** The multipart half of the BlobStore contract: R2's rules (src/ports/blob-store.ts). */
import { beforeEach, describe, expect, it } from "vitest";
import { MIN_PART_SIZE, MultipartError, type BlobStore, type ByteRange, type UploadedPart } from "../../src/ports/blob-store.ts";
import { bytes, concat, expectSameBytes, MiB, readObject } from "./bytes.ts";

/** Runs inside `blobStoreContract`, whose hooks give `use()` a fresh store per test. */
export function multipartContract(use: () => BlobStore): void {
  describe("multipart uploads (R2 rules)", () => {
    const key = "blobs/chunked/upload-1";
    let store: BlobStore;

    beforeEach(() => {
      store = use();
    });

    async function contentAt(objectKey: string, range?: ByteRange): Promise<Uint8Array> {
      return (await readObject(store, objectKey, range)).bytes;
    }

    async function uploadParts(uploadId: string, parts: Uint8Array[]): Promise<UploadedPart[]> {
      const uploaded: UploadedPart[] = [];
      for (const [i, body] of parts.entries()) uploaded.push(await store.uploadPart(key, uploadId, i + 1, body));
      return uploaded;
    }

    it("completes equal parts of at least 5 MiB and a smaller last part into their concatenation", async () => {
      const parts = [bytes(MIN_PART_SIZE, 1), bytes(MIN_PART_SIZE, 2), bytes(MiB + 3, 3)];
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, parts);
      expect(uploaded.map((p) => p.partNumber)).toEqual([1, 2, 3]);
      const whole = concat(...parts);
      expect(await store.completeMultipartUpload(key, uploadId, uploaded)).toEqual({ size: whole.byteLength });
      expectSameBytes(await contentAt(key), whole);
      const range = { offset: MIN_PART_SIZE - 10, length: 20 };
      expectSameBytes(await contentAt(key, range), whole.subarray(range.offset, range.offset + range.length));
    });

    it("accepts a last part as large as the others", async () => {
      const parts = [bytes(MIN_PART_SIZE, 1), bytes(MIN_PART_SIZE, 2)];
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, parts);
      expect(await store.completeMultipartUpload(key, uploadId, uploaded)).toEqual({ size: 2 * MIN_PART_SIZE });
    });

    it("accepts a single part smaller than 5 MiB, since it is the last", async () => {
      const part = bytes(1234, 4);
      const uploadId = await store.createMultipartUpload(key);
      await store.completeMultipartUpload(key, uploadId, await uploadParts(uploadId, [part]));
      expectSameBytes(await contentAt(key), part);
    });

    it("an upload is not visible at its key before completion", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(MIN_PART_SIZE, 1), bytes(10, 2)]);
      expect(await store.head(key)).toBeNull();
      expect(await store.get(key)).toBeNull();
      await store.completeMultipartUpload(key, uploadId, uploaded);
      expect(await store.head(key)).toEqual({ size: MIN_PART_SIZE + 10 });
    });

    it("rejects completion when a non-final part is smaller than 5 MiB, leaving nothing at the key", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(MIN_PART_SIZE - 1, 1), bytes(100, 2)]);
      await expect(store.completeMultipartUpload(key, uploadId, uploaded)).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("rejects completion when non-final parts differ in size", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(MIN_PART_SIZE, 1), bytes(MIN_PART_SIZE + 1, 2), bytes(100, 3)]);
      await expect(store.completeMultipartUpload(key, uploadId, uploaded)).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("rejects completion when the last part is larger than the others", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(MIN_PART_SIZE, 1), bytes(MIN_PART_SIZE + 1, 2)]);
      await expect(store.completeMultipartUpload(key, uploadId, uploaded)).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("rejects completion with an unknown ETag", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const part = await store.uploadPart(key, uploadId, 1, bytes(100));
      await expect(store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag: `${part.etag}x` }])).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("rejects completion listing a part that was never uploaded", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const part = await store.uploadPart(key, uploadId, 1, bytes(MIN_PART_SIZE));
      const missing = { partNumber: 2, etag: part.etag };
      await expect(store.completeMultipartUpload(key, uploadId, [part, missing])).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("rejects completion with no parts", async () => {
      const uploadId = await store.createMultipartUpload(key);
      await expect(store.completeMultipartUpload(key, uploadId, [])).rejects.toBeInstanceOf(MultipartError);
    });

    it("a rejected completion leaves the upload open to complete correctly", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const part = await store.uploadPart(key, uploadId, 1, bytes(100, 1));
      await expect(store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag: "wrong" }])).rejects.toBeInstanceOf(MultipartError);
      await expect(store.completeMultipartUpload(key, uploadId, [part])).resolves.toEqual({ size: 100 });
    });

    it("re-uploading a part number replaces it: the old ETag no longer completes, the new one does", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const first = await store.uploadPart(key, uploadId, 1, bytes(100, 1));
      const replacement = bytes(80, 2);
      const second = await store.uploadPart(key, uploadId, 1, replacement);
      expect(second.etag).not.toBe(first.etag);
      await expect(store.completeMultipartUpload(key, uploadId, [first])).rejects.toBeInstanceOf(MultipartError);
      await store.completeMultipartUpload(key, uploadId, [second]);
      expectSameBytes(await contentAt(key), replacement);
    });

    it("rejects part numbers outside 1..10000", async () => {
      const uploadId = await store.createMultipartUpload(key);
      for (const partNumber of [0, -1, 10_001, 1.5]) {
        await expect(store.uploadPart(key, uploadId, partNumber, bytes(10))).rejects.toBeInstanceOf(MultipartError);
      }
      await expect(store.uploadPart(key, uploadId, 10_000, bytes(10))).resolves.toMatchObject({ partNumber: 10_000 });
    });

    it("uploadPart and completion with an unknown upload id throw MultipartError", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const part = await store.uploadPart(key, uploadId, 1, bytes(10));
      await store.abortMultipartUpload(key, uploadId);
      await expect(store.uploadPart(key, uploadId, 2, bytes(10))).rejects.toBeInstanceOf(MultipartError);
      await expect(store.completeMultipartUpload(key, uploadId, [part])).rejects.toBeInstanceOf(MultipartError);
      await expect(store.uploadPart(key, "no-such-upload", 1, bytes(10))).rejects.toBeInstanceOf(MultipartError);
      await expect(store.completeMultipartUpload(key, "no-such-upload", [part])).rejects.toBeInstanceOf(MultipartError);
    });

    it("uploadPart under another key than the upload's throws MultipartError", async () => {
      const uploadId = await store.createMultipartUpload(key);
      await expect(store.uploadPart("blobs/chunked/other", uploadId, 1, bytes(10))).rejects.toBeInstanceOf(MultipartError);
    });

    it("abort removes the parts: the upload can no longer complete and nothing appears at the key", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(10)]);
      await store.abortMultipartUpload(key, uploadId);
      await expect(store.completeMultipartUpload(key, uploadId, uploaded)).rejects.toBeInstanceOf(MultipartError);
      expect(await store.head(key)).toBeNull();
    });

    it("aborting an unknown or completed upload is not an error and keeps the completed object", async () => {
      await expect(store.abortMultipartUpload(key, "no-such-upload")).resolves.toBeUndefined();
      const uploadId = await store.createMultipartUpload(key);
      await store.completeMultipartUpload(key, uploadId, await uploadParts(uploadId, [bytes(10)]));
      await expect(store.abortMultipartUpload(key, uploadId)).resolves.toBeUndefined();
      expect(await store.head(key)).toEqual({ size: 10 });
    });

    it("a completed upload cannot be completed again", async () => {
      const uploadId = await store.createMultipartUpload(key);
      const uploaded = await uploadParts(uploadId, [bytes(10)]);
      await store.completeMultipartUpload(key, uploadId, uploaded);
      await expect(store.completeMultipartUpload(key, uploadId, uploaded)).rejects.toBeInstanceOf(MultipartError);
    });

    it("keeps concurrent uploads to different keys apart", async () => {
      const [a, b] = [await store.createMultipartUpload("blobs/chunked/a"), await store.createMultipartUpload("blobs/chunked/b")];
      const [partA, partB] = await Promise.all([
        store.uploadPart("blobs/chunked/a", a, 1, bytes(10, 1)),
        store.uploadPart("blobs/chunked/b", b, 1, bytes(20, 2)),
      ]);
      await Promise.all([
        store.completeMultipartUpload("blobs/chunked/a", a, [partA]),
        store.completeMultipartUpload("blobs/chunked/b", b, [partB]),
      ]);
      expectSameBytes(await contentAt("blobs/chunked/a"), bytes(10, 1));
      expectSameBytes(await contentAt("blobs/chunked/b"), bytes(20, 2));
    });
  });
}
