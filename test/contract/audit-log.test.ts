/**
 * The audit table's bound against a flood (issue 18, adversarial review), on a real SQLite
 * file: anyone can send refused requests (and pull public repositories) as fast as they like,
 * so those must not push the record of a push or a delete out of the table, and
 * GET /admin/audit?changes=true finds the changes under them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEventTables, SqlAuditStore } from "../../src/adapters/sql/event-records.ts";
import { NodeSqliteDriver } from "../../src/adapters/sqlite/node-driver.ts";
import { DATABASE_FILE } from "../../src/adapters/sqlite/open.ts";
import type { AuditEntry } from "../../src/observability/events/outbox.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { createApp } from "../../src/http/app.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function databaseFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "audit-log-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, DATABASE_FILE);
}

function open(file: string): NodeSqliteDriver {
  const driver = new NodeSqliteDriver(file);
  cleanups.push(() => driver.close());
  return driver;
}

/** Two connections to one database, each with its audit store, as two processes of `npm start` have them. */
async function twoProcesses(): Promise<{ first: NodeSqliteDriver; stores: [SqlAuditStore, SqlAuditStore] }> {
  const file = await databaseFile();
  const [first, second] = [open(file), open(file)];
  createEventTables(first);
  createEventTables(second);
  return { first, stores: [new SqlAuditStore(first), new SqlAuditStore(second)] };
}

const entry = (fields: Partial<AuditEntry>): AuditEntry => ({ time: new Date().toISOString(), action: "push", outcome: "ok", status: 201, identity: "user:alice", requestId: crypto.randomUUID(), ...fields });

describe("the audit log under a flood of refusals", () => {
  it("keeps the record of a push after more than 100,000 refused requests", { timeout: 120_000 }, async () => {
    const driver = open(await databaseFile());
    createEventTables(driver);
    const audit = new SqlAuditStore(driver);
    const push = entry({ repository: "blue/app", tag: "v1" });
    audit.add(push);
    // An anonymous caller probing blue/app: refused, 401, as fast as it likes.
    const refused = entry({ action: "PUT /v2/:name{.+}/manifests/:reference", outcome: "refused", status: 401, identity: "anonymous", repository: "blue/app" });
    for (let i = 0; i < 101_000; i++) audit.add(refused);
    audit.flush();

    const kept = driver.all<{ entry: string }>("SELECT entry FROM audit_log WHERE entry LIKE '%\"outcome\":\"ok\"%'").map((row) => JSON.parse(row.entry) as AuditEntry);
    expect(kept).toEqual([push]);
    // And GET /admin/audit?repository=blue/app&changes=true finds it under the flood.
    expect(audit.recent(100, { repository: "blue/app", changesOnly: true })).toEqual([push]);
    expect(audit.recent(100, { repository: "blue/app" })).toHaveLength(100);
    const rows = driver.all<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log")[0]!.n;
    expect(rows).toBeLessThanOrEqual(100_001 + 1000);
  });

  it("adds the change column to a table made before it, once, when two connections open it together", async () => {
    const file = await databaseFile();
    const old = open(file);
    old.exec("CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, repository TEXT, entry TEXT NOT NULL)");
    const before = entry({ repository: "blue/app" });
    old.run("INSERT INTO audit_log (repository, entry) VALUES (?, ?)", "blue/app", JSON.stringify(before));
    const [a, b] = [open(file), open(file)];
    createEventTables(a);
    createEventTables(b);
    const audit = new SqlAuditStore(b);
    const after = entry({ repository: "blue/app", action: "delete:tag", status: 202 });
    audit.add(after);
    expect(audit.recent(10, { repository: "blue/app" })).toEqual([after, before]);
    // The older row's time, taken from its entry when the column was added.
    expect(b.all<{ at: string | null }>("SELECT at FROM audit_log ORDER BY id").map((row) => row.at)).toEqual([before.time, after.time]);
  });

  it("lists entries newest first by when they happened, though two processes flush their batches in the other order", async () => {
    const { first, stores: [processA, processB] } = await twoProcesses();
    const push = entry({ repository: "blue/app", time: "2026-12-06T10:00:00.000Z" });
    const pull = entry({ repository: "blue/app", action: "pull", status: 200, time: "2026-12-06T10:00:00.400Z" });
    processA.add(push);
    processB.add(pull);
    processB.flush();
    processA.flush();
    // Written in flush order: the pull's row first.
    const written = first.all<{ entry: string }>("SELECT entry FROM audit_log ORDER BY id").map((row) => (JSON.parse(row.entry) as AuditEntry).requestId);
    expect(written).toEqual([pull.requestId, push.requestId]);
    expect(processB.recent(10, { repository: "blue/app" })).toEqual([pull, push]);
    // Asked for the newest one only: the pull, though its row is not the last written.
    expect(processB.recent(1, { repository: "blue/app" })).toEqual([pull]);
  });

  it("lists the newest entry first however many older ones another process flushed after it", async () => {
    const { stores: [early, late] } = await twoProcesses();
    const newest = entry({ repository: "blue/app", time: "2026-12-06T10:00:05.000Z" });
    early.add(newest);
    early.flush();
    // 2,000 entries from before it, written after it (a busy process's batches, flushed late).
    const older = Array.from({ length: 2000 }, (_, i) => entry({ repository: "blue/app", action: "pull", status: 200, time: new Date(Date.parse("2026-12-06T10:00:00.000Z") + i).toISOString() }));
    for (const e of older) late.add(e);
    late.flush();
    expect(late.recent(1, { repository: "blue/app" })).toEqual([newest]);
    expect(late.recent(3)).toEqual([newest, older[1999], older[1998]]);
  });

  it("GET /admin/audit?changes=true answers the changes only; another value is a 400", async () => {
    const driver = open(await databaseFile());
    createEventTables(driver);
    const audit = new SqlAuditStore(driver);
    const push = entry({ repository: "blue/app", tag: "v1" });
    audit.add(push);
    audit.add(entry({ action: "pull", status: 200, repository: "blue/app" }));
    audit.add(entry({ action: "GET /v2/", outcome: "refused", status: 401, identity: "anonymous" }));
    const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm }, { maintenance: { usage: async () => ({}), collect: async () => ({}), audit } });
    const changes = await app.request("/admin/audit?changes=true");
    expect(changes.status).toBe(200);
    expect(((await changes.json()) as { entries: AuditEntry[] }).entries).toEqual([push]);
    expect(((await (await app.request("/admin/audit")).json()) as { entries: AuditEntry[] }).entries).toHaveLength(3);
    const wrong = await app.request("/admin/audit?changes=yes");
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe("UNSUPPORTED");
  });
});
