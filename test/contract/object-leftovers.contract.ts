/**
 * The leftover sweep for bucket stores (lifecycle/object-leftovers.ts): R2 inside workerd, S3 on
 * Ceph RGW. Objects are put as a crash would leave them, and counted in the store itself; the
 * clock is moved instead of waiting the hour a leftover must age. Imports only vitest and src.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { sweepObjectLeftovers } from "../../src/lifecycle/object-leftovers.ts";
import type { BlobStore, ListableObjects } from "../../src/ports/blob-store.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { ScannableMetadata } from "../../src/ports/collectable.ts";
import type { Hashing } from "../../src/ports/hashing.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { pullsWhole, pushImage, random, text } from "./image-pushes.ts";

export interface LeftoverFixture {
  metadata: MetadataStore & ScannableMetadata;
  blobs: BlobStore & ListableObjects;
  hashing: Hashing;
  /** Keys of every object in the store. */
  objects(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const HOUR = 60 * 60 * 1000;

export function objectLeftoversContract(name: string, create: () => Promise<LeftoverFixture>): void {
  let fixture: LeftoverFixture | undefined;

  describe(`leftover sweep: ${name}`, () => {
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("removes, once old enough, blob objects no index entry names and chunked objects and tails of uploads no longer open; keeps what is indexed and what open uploads use", async () => {
      fixture = await create();
      const { metadata, blobs, hashing, objects } = fixture;
      const app = createApp(new Registry({ blobs, metadata, hashing, partSize: MIN_PART_SIZE }));
      expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [random(3000)])).status).toBe(201);
      const upload = await app.request("/v2/team/a/blobs/uploads/", { method: "POST" });
      const location = upload.headers.get("location")!;
      expect((await app.request(location, { method: "PATCH", body: "partial bytes", headers: { "Content-Range": "0-12", "Content-Length": "13" } })).status).toBe(202);
      const openId = location.split("/").pop()!;
      const openTail = (await metadata.getUpload("team/a", openId))!.tail!.key;
      const pushed = await objects();

      // What crashes leave: bytes written and never indexed, a multipart completed by a request
      // that died (its upload gone), a superseded tail; and an open upload's completed multipart.
      const leftovers = [`blobs/sha256/${"a".repeat(64)}-dead`, "blobs/chunked/gone-upload", "uploads/gone-upload/tail-1"];
      for (const key of [...leftovers, `blobs/chunked/${openId}`]) await blobs.put(key, new Uint8Array(100), { length: 100 });

      expect(await sweepObjectLeftovers({ metadata, blobs, olderThanMs: HOUR })).toMatchObject({ files: 0 }); // all young
      const later = () => Date.now() + 2 * HOUR;
      expect(await sweepObjectLeftovers({ metadata, blobs, olderThanMs: HOUR, now: later, dryRun: true })).toEqual({ files: 3, bytes: 300, problems: [] });
      expect(await objects()).toHaveLength(pushed.length + 4);
      expect(await sweepObjectLeftovers({ metadata, blobs, olderThanMs: HOUR, now: later })).toEqual({ files: 3, bytes: 300, problems: [] });

      expect(await objects()).toEqual([...pushed, `blobs/chunked/${openId}`].sort());
      expect(pushed).toContain(openTail);
      expect(await pullsWhole(app, "team/a", "v1")).toBe(true);
      // The open upload still finishes.
      const finish = await app.request(`${location}${location.includes("?") ? "&" : "?"}digest=sha256:${await hex("partial bytes")}`, { method: "PUT" });
      expect(finish.status).toBe(201);
    });
  });
}

async function hex(s: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}
