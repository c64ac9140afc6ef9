/**
 * The lifecycle on DynamoDB (dynalite) + S3 (Ceph RGW) beyond the collector: whole-repository
 * deletion (the shared contract, and what the collector's Scan is there for,
 * dynamodb/repository-deletion.ts: a repository holding items the catalog lost is visited and
 * listed again), namespace quotas, and the sweep of objects no record names.
 */
import { DeleteItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { keys } from "../../src/adapters/dynamodb/keys.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { ScanningCollector } from "../../src/lifecycle/scanning-collector.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { pullsWhole, pushImage, random, text } from "../contract/image-pushes.ts";
import { repositoryDeletionContract } from "../contract/repository-deletion.contract.ts";
import { scannedQuotasContract } from "../contract/scanned-quotas.contract.ts";
import { objectLeftoversContract } from "../contract/object-leftovers.contract.ts";
import { lifecycleStores as stores } from "./lifecycle-stores.ts";

repositoryDeletionContract("dynamodb (dynalite) + s3 (Ceph RGW)", async () => ({ ...(await stores()), catalogAlwaysListsHolders: false }));

describe("repository deletion on DynamoDB: the collector's Scan", () => {
  it("a repository whose catalog entry is gone while it holds an image (a push racing a deletion) is visited, listed again, and keeps its blobs", async () => {
    const { dynamodb, table, metadata, blobs, hashing, objects, cleanup } = await stores();
    try {
      const app = createApp(new Registry({ blobs, metadata, hashing, partSize: MIN_PART_SIZE }));
      expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [random(2000)])).status).toBe(201);
      // What a push racing a deletion can leave: its items, and no catalog entry.
      await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: keys.catalogEntry("team/a") }));
      expect(await metadata.listRepositories({})).toEqual([]);

      let now = Date.now();
      const collector = () => new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 0, now: () => now });
      expect(await collector().run()).toMatchObject({ blobsMarked: 0, problems: [] });
      now += 120_000;
      expect(await collector().run()).toMatchObject({ blobsDeleted: 0 });
      expect(await metadata.listRepositories({})).toEqual(["team/a"]);
      expect(await objects()).toHaveLength(3);
      expect(await pullsWhole(app, "team/a", "v1")).toBe(true);
    } finally {
      await cleanup();
    }
  });
});

scannedQuotasContract("dynamodb (dynalite) + s3 (Ceph RGW)", stores);

objectLeftoversContract("s3 (Ceph RGW) + dynamodb (dynalite)", async () => {
  const created = await stores();
  return { ...created, objects: () => created.objects("") };
});
