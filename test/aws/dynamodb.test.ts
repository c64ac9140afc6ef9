/**
 * What the DynamoDB adapter must do beyond the shared contract: records at
 * DynamoDB's item-size limit, pages cut at 1 MB, and putManifest racing
 * deleteManifest without transactions (core/storage-layout.ts § dynamodb).
 */
import { PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { indexingBytes } from "../contract/metadata-store.contract.ts";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { putManifest } from "../../src/adapters/dynamodb/manifest-writes.ts";
import type { Item } from "../../src/adapters/dynamodb/items.ts";
import { type Key, keys } from "../../src/adapters/dynamodb/keys.ts";
import { type Condition, TableAccess } from "../../src/adapters/dynamodb/table-access.ts";
import type { ManifestRecord, MetadataStore, UploadRecord } from "../../src/ports/metadata-store.ts";
import { deleteTable, localDynamoDb, uniqueName } from "./support.ts";

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;
const manifest = (n: number): ManifestRecord => ({ digest: digest(n), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 100, key: `blobs/sha256/${n}` });

describe("DynamoDbMetadataStore on dynalite", () => {
  const client = localDynamoDb();
  let table: string;
  // As the core uses it: manifest bytes are indexed before a manifest names them.
  let store: MetadataStore;

  beforeEach(async () => {
    table = uniqueName("dynamodb");
    await createRegistryTable(client, table);
    store = indexingBytes(new DynamoDbMetadataStore({ client, table }));
  });
  afterEach(() => deleteTable(client, table));

  const skOf = (key: Key) => key.sk.S;
  const deferred = () => {
    let resolve = () => {};
    const promise = new Promise<void>((done) => (resolve = done));
    return { promise, resolve };
  };
  /**
   * The table as putManifest uses it, each put (conditional or not) waiting for `before` and
   * reported to `after` once written: forces one interleaving of two pushes' real writes.
   */
  const gated = (before: (item: Item) => Promise<unknown> | undefined, after: (item: Item) => void = () => {}) =>
    new (class extends TableAccess {
      override async put(item: Item, condition?: Condition): Promise<boolean> {
        await before(item);
        const written = await super.put(item, condition);
        if (written) after(item);
        return written;
      }
      override async putReturningOld(item: Item, condition: Condition): Promise<{ written: boolean; old: Item | null }> {
        await before(item);
        const result = await super.putReturningOld(item, condition);
        if (result.written) after(item);
        return result;
      }
    })(client, table);

  it("keeps an upload record with 10,000 parts (a blob at the part limit) in one item under 400 KB", async () => {
    const parts = Array.from({ length: 10_000 }, (_, i) => ({ partNumber: i + 1, etag: `"${randomBytes(16).toString("hex")}"`, size: 8 * 1024 * 1024 }));
    const record: UploadRecord = {
      id: "big",
      repository: "team/app",
      algorithm: "sha256",
      createdAt: 1,
      version: 1,
      received: 10_000 * 8 * 1024 * 1024,
      hashState: randomBytes(116).toString("base64"),
      partSize: 8 * 1024 * 1024,
      multipart: { key: "blobs/chunked/big", uploadId: randomBytes(40).toString("base64url") },
      parts,
      tail: null,
    };
    await store.createUpload(record);
    expect(await store.getUpload("team/app", "big")).toEqual(record);
  });

  it("keeps a manifest record far over 400 KB (annotations) in chunks, replaces them on a re-put and removes them on delete", async () => {
    // Random text does not deflate below the item limit, so this takes several chunk items.
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 12; i++) annotations[`org.example.${i}`] = randomBytes(75_000).toString("base64");
    const record: ManifestRecord = { ...manifest(2), subject: digest(1), annotations };
    const manifestItems = async () =>
      (
        await client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues: { ":pk": { S: "repo#team/app" }, ":prefix": { S: `manifest#${digest(2)}` } },
            ProjectionExpression: "sk",
          }),
        )
      ).Items ?? [];
    await store.putManifest("team/app", record, ["big"]);
    const written = await manifestItems();
    expect(written.length).toBeGreaterThan(2);
    expect(await store.getManifest("team/app", digest(2))).toEqual(record);
    expect(await store.getTaggedManifest("team/app", "big")).toEqual(record);
    expect(await store.listReferrers("team/app", digest(1))).toEqual([record]);
    await store.putManifest("team/app", record, ["again"]);
    const rewritten = await manifestItems();
    expect(rewritten).toHaveLength(written.length);
    expect(rewritten).not.toEqual(written);
    expect(await store.getManifest("team/app", digest(2))).toEqual(record);
    expect(await store.deleteManifest("team/app", digest(2))).toBe(true);
    expect(await manifestItems()).toEqual([]);
  });

  it("listTags follows LastEvaluatedKey when DynamoDB cuts a page at 1 MB", async () => {
    await store.putManifest("team/app", manifest(1), ["a"]);
    // Tag items padded to ~300 KB each: five of them cannot come back in one 1 MB page.
    const padding = { S: "x".repeat(300_000) };
    for (const tag of ["b", "c", "d", "e", "f"]) {
      await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "repo#team/app" }, sk: { S: `tag#${tag}` }, digest: { S: digest(1) }, padding } }));
    }
    expect(await store.listTags("team/app", {})).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(await store.listTags("team/app", { after: "a", limit: 4 })).toEqual(["b", "c", "d", "e"]);
  });

  it("putManifest racing deleteManifest of the same digest never leaves a tag on a missing manifest", async () => {
    for (let round = 0; round < 25; round++) {
      await store.putManifest("team/app", manifest(1), [`old-${round}`]);
      await Promise.all([
        store.putManifest("team/app", manifest(1), [`new-${round}`, "latest"]),
        store.deleteManifest("team/app", digest(1)),
        store.putManifest("team/app", manifest(2), [`other-${round}`]),
      ]);
      for (const tag of await store.listTags("team/app", {})) {
        expect(await store.getTaggedManifest("team/app", tag), `tag ${tag} after round ${round}`).not.toBeNull();
      }
    }
  });

  it("two pushes racing for the same two immutable tags cannot split them (each taking one and both refused), however their writes interleave", async () => {
    // The interleaving that splits tags written in parallel, forced: P's write of tag y waits until
    // Q has finished, and Q's write of tag x waits until P has written x. Each put is the real one.
    const settled = { q: deferred(), pTookX: deferred() };
    const tagKey = (tag: string) => keys.tag("team/app", tag).sk.S;
    const p = gated(
      async (item) => (item.sk?.S === tagKey("y") ? settled.q.promise : undefined),
      (item) => (item.sk?.S === tagKey("x") ? settled.pTookX.resolve() : undefined),
    );
    const q = gated(async (item) => (item.sk?.S === tagKey("x") ? settled.pTookX.promise : undefined));
    const [fromP, fromQ] = await Promise.allSettled([
      putManifest(p, "team/app", manifest(1), ["x", "y"], null, ["x", "y"]),
      putManifest(q, "team/app", manifest(2), ["y", "x"], null, ["y", "x"]).finally(() => settled.q.resolve()),
    ]);
    expect(fromQ).toMatchObject({ status: "rejected", reason: { name: "ImmutableTagError", tags: ["x"] } });
    expect(fromP.status).toBe("fulfilled");
    expect((await store.getTaggedManifest("team/app", "x"))?.digest).toBe(digest(1));
    expect((await store.getTaggedManifest("team/app", "y"))?.digest).toBe(digest(1));
  });

  it("a push that loses an immutable tag leaves the back-reference of another tag, which a push of the same digest won: deleting the manifest later removes that tag too", async () => {
    await store.putManifest("team/app", manifest(9), ["x"], undefined, ["x"]);
    const [winnerReferenced, loserReferenced, winnerDone] = [deferred(), deferred(), deferred()];
    // The winner's back-reference for y first, then the loser's (same key: the loser's put id replaces
    // the winner's), then the winner takes y; the loser tries x (held by manifest 9) only after.
    const winner = gated(
      async (item) => (item.sk?.S === skOf(keys.tag("team/app", "y")) ? loserReferenced.promise : undefined),
      (item) => (item.sk?.S === skOf(keys.tagged("team/app", digest(1), "y")) ? winnerReferenced.resolve() : undefined),
    );
    const loser = gated(
      async (item) => {
        if (item.sk?.S?.startsWith("tagged#")) await winnerReferenced.promise;
        if (item.sk?.S === skOf(keys.tag("team/app", "x"))) await winnerDone.promise;
      },
      (item) => (item.sk?.S === skOf(keys.tagged("team/app", digest(1), "y")) ? loserReferenced.resolve() : undefined),
    );
    const [fromLoser, fromWinner] = await Promise.allSettled([
      putManifest(loser, "team/app", manifest(1), ["x", "y"], null, ["x", "y"]),
      putManifest(winner, "team/app", manifest(1), ["y"], null, ["y"]).finally(() => winnerDone.resolve()),
    ]);
    expect(fromWinner.status).toBe("fulfilled");
    expect(fromLoser).toMatchObject({ status: "rejected", reason: { name: "ImmutableTagError", tags: ["x"] } });
    expect((await store.getTaggedManifest("team/app", "y"))?.digest).toBe(digest(1));
    expect(await store.deleteManifest("team/app", digest(1))).toBe(true);
    expect(await store.listTags("team/app", {})).toEqual(["x"]);
  });

  it("a push that created an immutable tag and then loses another does not take the tag back from a push of the same digest that wrote it meanwhile", async () => {
    await store.putManifest("team/app", manifest(9), ["z"], undefined, ["z"]);
    const [loserTookY, winnerDone] = [deferred(), deferred()];
    const loser = gated(
      async (item) => (item.sk?.S === skOf(keys.tag("team/app", "z")) ? winnerDone.promise : undefined),
      (item) => (item.sk?.S === skOf(keys.tag("team/app", "y")) ? loserTookY.resolve() : undefined),
    );
    const winner = gated(async (item) => (item.sk?.S === skOf(keys.tag("team/app", "y")) ? loserTookY.promise : undefined));
    const [fromLoser, fromWinner] = await Promise.allSettled([
      putManifest(loser, "team/app", manifest(1), ["y", "z"], null, ["y", "z"]),
      putManifest(winner, "team/app", manifest(1), ["y"], null, ["y"]).finally(() => winnerDone.resolve()),
    ]);
    expect(fromWinner.status).toBe("fulfilled");
    expect(fromLoser).toMatchObject({ status: "rejected", reason: { name: "ImmutableTagError", tags: ["z"] } });
    expect((await store.getTaggedManifest("team/app", "y"))?.digest).toBe(digest(1));
  });

  it("a manifest put whose repository the collector dropped as empty between its registration and its write is listed, and its tags list", async () => {
    // The collector's drop, run (through a client of its own) just before the manifest item is written.
    const pushing = localDynamoDb();
    const send = pushing.send.bind(pushing) as (command: unknown) => Promise<unknown>;
    let dropped: boolean | null = null;
    (pushing as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
      const input = (command as { input?: { Item?: Item } }).input;
      if (dropped === null && input?.Item?.sk?.S === keys.manifest("team/app", digest(1)).sk.S) {
        dropped = await new DynamoDbMetadataStore({ client, table }).removeRepositoryIfEmpty("team/app");
      }
      return send(command);
    };
    const racing = indexingBytes(new DynamoDbMetadataStore({ client: pushing, table }));
    expect(await racing.putManifest("team/app", manifest(1), ["v1"])).toEqual([]);
    expect(dropped).toBe(true);
    expect(await store.repositoryExists("team/app")).toBe(true);
    expect(await store.listRepositories({})).toEqual(["team/app"]);
    expect(await store.listTags("team/app", {})).toEqual(["v1"]);
    // Listed again with the manifest counted and its push time, not as a repository never pushed to.
    const summary = await store.repositorySummary("team/app");
    expect(summary.lastPushedAt).not.toBeNull();
    expect(summary.bytes).toBeGreaterThanOrEqual(manifest(1).size);
  });

  it("deleteManifest removes every tag that ever pointed at the digest and still does, however it was put", async () => {
    await store.putManifest("team/app", manifest(1), ["a"]);
    await store.putManifest("team/app", manifest(1), ["b"]);
    await store.putManifest("team/app", manifest(2), ["a"]);
    await store.putManifest("team/app", manifest(1), ["c"]);
    expect(await store.deleteManifest("team/app", digest(1))).toBe(true);
    expect(await store.listTags("team/app", {})).toEqual(["a"]);
    expect((await store.getTaggedManifest("team/app", "a"))?.digest).toBe(digest(2));
  });

  it("the counted size of a repository that a crash put off is set right by the next garbage collection's visit", async () => {
    const raw = new DynamoDbMetadataStore({ client, table });
    const blob = { digest: digest(1), size: 1000, key: "blobs/sha256/1" };
    await store.linkBlob("team/app", blob);
    await store.putManifest("team/app", manifest(2), ["v1"], { blobs: [digest(1)], manifests: [] });
    expect(await store.repositorySummary("team/app")).toMatchObject({ bytes: 1100, bytesFrom: "counted" });
    // As if a link were written and its count lost to a crash, and a figure were off besides.
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "repo#team/app" }, sk: { S: `link#${digest(3)}` }, digest: { S: digest(3) }, size: { N: "50" }, key: { S: "blobs/sha256/3" }, linkedAt: { N: String(Date.now()) } } }));
    await client.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: "catalog" }, sk: { S: "team/app" } }, UpdateExpression: "SET bytes = :b", ExpressionAttributeValues: { ":b": { N: "7" } } }));
    expect((await store.repositorySummary("team/app")).bytes).toBe(7);
    // A dry run changes nothing; a real visit (the link is new, so no orphan) recounts.
    await raw.scanRepository("team/app", 0, true);
    expect((await store.repositorySummary("team/app")).bytes).toBe(7);
    await raw.scanRepository("team/app", 0, false);
    expect((await store.repositorySummary("team/app")).bytes).toBe(1150);
    // An orphan link the visit removes is taken away too, and the recount still holds after it.
    await raw.scanRepository("team/app", Date.now() + 1000, false);
    expect((await store.repositorySummary("team/app")).bytes).toBe(1100);
  });

  it("a count that lands during a garbage collection's visit keeps the visit from overwriting it", async () => {
    const raw = new DynamoDbMetadataStore({ client, table });
    await store.linkBlob("team/app", { digest: digest(1), size: 1000, key: "blobs/sha256/1" });
    // The visit reads the entry's version, then Queries the manifests and the links; a link
    // written after those Queries is not in the figure it measured, and bumps the version.
    const original = client.send.bind(client);
    let queries = 0;
    let raced = false;
    client.send = (async (command: Parameters<typeof client.send>[0]) => {
      const result = await original(command as never);
      if (command instanceof QueryCommand && ++queries === 2) {
        raced = true;
        await store.linkBlob("team/app", { digest: digest(4), size: 30, key: "blobs/sha256/4" });
      }
      return result;
    }) as typeof client.send;
    try {
      await raw.scanRepository("team/app", 0, false);
    } finally {
      client.send = original;
    }
    expect(raced).toBe(true);
    expect((await store.repositorySummary("team/app")).bytes).toBe(1030);
  });
});
