/**
 * Manifests stored on DynamoDB before references were recorded (no `refs` attribute: written by
 * an earlier version) make the collector keep every link of their repository; the scanning
 * collector reads their references from their bytes and records them, after which orphan links
 * go as anywhere else, and the image still pulls whole. As on Durable Objects
 * (test/workers/legacy-references.test.ts), on dynalite and Ceph RGW.
 */
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { keys } from "../../src/adapters/dynamodb/keys.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { S3BlobStore } from "../../src/adapters/s3/blob-store.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { ScanningCollector } from "../../src/lifecycle/scanning-collector.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { pullsWhole, pushBlob, pushImage, random, sha256, text } from "../contract/image-pushes.ts";
import { createBucket, deleteBucket, deleteTable, localDynamoDb, localS3, uniqueName } from "./support.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setUp() {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const [bucket, table] = [uniqueName("legacy"), uniqueName("legacy")];
  await createBucket(s3, bucket);
  await createRegistryTable(dynamodb, table);
  cleanups.push(() => deleteBucket(s3, bucket), () => deleteTable(dynamodb, table));
  const metadata = new DynamoDbMetadataStore({ client: dynamodb, table });
  const blobs = new S3BlobStore({ client: s3, bucket });
  const app = createApp(new Registry({ blobs, metadata, hashing: hashWasm, partSize: MIN_PART_SIZE }));
  /** As an earlier version left the manifest item: its references not recorded. */
  const forgetReferences = async (repository: string, digest: string) =>
    dynamodb.send(new UpdateItemCommand({ TableName: table, Key: keys.manifest(repository, digest), UpdateExpression: "REMOVE refs", ConditionExpression: "attribute_exists(refs)" }));
  return { metadata, blobs, app, forgetReferences };
}

describe("references of manifests stored before they were recorded (DynamoDB)", () => {
  it("are read from the manifests' bytes by the collector, so a link no manifest uses goes and the image still pulls whole", async () => {
    const { metadata, blobs, app, forgetReferences } = await setUp();
    const pushed = await pushImage(app, "old/app", "v1", text('{"o":1}'), [random(4000)]);
    expect(pushed.status).toBe(201);
    const stray = random(3000);
    expect((await pushBlob(app, "old/app", stray)).status).toBe(201); // linked, used by no manifest
    await forgetReferences("old/app", pushed.digest);
    expect((await metadata.scanRepository("old/app", Number.MAX_SAFE_INTEGER, true)).orphanLinks).toBe(0); // unknown references keep every link

    let now = Date.now() + 1000;
    const collector = () => new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 0, now: () => now });
    expect(await collector().run({ dryRun: true })).toMatchObject({ referencesRecorded: 0, orphanLinksRemoved: 0 }); // a dry run changes nothing
    expect(await collector().run()).toMatchObject({ referencesRecorded: 1, orphanLinksRemoved: 1, blobsMarked: 1, problems: [] });
    now += 61_000;
    expect(await collector().run()).toMatchObject({ referencesRecorded: 0, blobsDeleted: 1 });
    expect((await app.request(`/v2/old/app/blobs/${await sha256(stray)}`, { method: "HEAD" })).status).toBe(404);
    expect(await pullsWhole(app, "old/app", "v1")).toBe(true);
  });

  it("a manifest whose bytes are gone is reported and keeps its repository's links", async () => {
    const { metadata, blobs, app, forgetReferences } = await setUp();
    const pushed = await pushImage(app, "old/app", "v1", text('{"o":2}'), [random(1000)]);
    expect((await pushBlob(app, "old/app", random(500))).status).toBe(201);
    const record = (await metadata.getManifest("old/app", pushed.digest))!;
    await forgetReferences("old/app", pushed.digest);
    await blobs.delete(record.key);
    const report = await new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 0, now: () => Date.now() + 1000 }).run();
    expect(report).toMatchObject({ referencesRecorded: 0, orphanLinksRemoved: 0 });
    expect(report.problems).toEqual([expect.stringContaining(`manifest ${pushed.digest} in old/app: references not read`)]);
  });

  it("a manifest deleted before its references are recorded is not brought back", async () => {
    const { metadata, app, forgetReferences } = await setUp();
    const pushed = await pushImage(app, "old/app", "v1", text('{"o":3}'), [random(1000)]);
    await forgetReferences("old/app", pushed.digest);
    expect((await metadata.unrecordedManifests("old/app", 10)).map((r) => r.digest)).toEqual([pushed.digest]);
    expect((await app.request(`/v2/old/app/manifests/${pushed.digest}`, { method: "DELETE" })).status).toBe(202);
    expect(await metadata.recordReferences("old/app", pushed.digest, { blobs: [], manifests: [] })).toBe(false);
    expect(await metadata.getManifest("old/app", pushed.digest)).toBeNull();
  });
});
