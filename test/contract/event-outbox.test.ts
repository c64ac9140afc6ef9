/**
 * The Node outbox and its delivery against attackers and crashes (issue 18, adversarial
 * review), on real SQLite files and real HTTP receivers on 127.0.0.1: claims give each row
 * to one sender, a crashed sender's claim expires, a receiver that hangs holds only its own
 * endpoint, the outbox is bounded per endpoint while a receiver is dead, a redirect is not
 * followed with the signature, an endless answer body is never read, and rows of an
 * endpoint that left the configuration are dropped at start.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEventTables, SqlOutbox } from "../../src/adapters/sql/event-records.ts";
import { NodeSqliteDriver } from "../../src/adapters/sqlite/node-driver.ts";
import { DATABASE_FILE } from "../../src/adapters/sqlite/open.ts";
import type { NotificationEndpoint } from "../../src/observability/events/config.ts";
import { EventDelivery } from "../../src/observability/events/delivery.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import type { LogFields } from "../../src/observability/log.ts";
import { openNodeEvents } from "../../src/runtime/node-events.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(): Promise<{ dir: string; open(): { driver: NodeSqliteDriver; outbox: SqlOutbox } }> {
  const dir = await mkdtemp(join(tmpdir(), "event-outbox-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return {
    dir,
    open() {
      const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
      createEventTables(driver);
      cleanups.push(() => driver.close());
      return { driver, outbox: new SqlOutbox(driver) };
    },
  };
}

async function receiver(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      bodies.push(body);
      handle(req, res, body);
    });
  });
  server.on("connection", (socket) => (sockets.add(socket), socket.on("close", () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

function endpoint(name: string, url: string, extra: Partial<NotificationEndpoint> = {}): NotificationEndpoint {
  return { name, url, headers: {}, repositories: [], actions: [], timeoutMs: 2000, maxAttempts: 5, backoffMs: 60_000, maxPending: 10_000, ...extra };
}

function recorder() {
  const counts = { delivered: 0, failed: 0, dropped: 0 };
  const lines: { message: string; fields: LogFields }[] = [];
  return {
    counts,
    lines,
    metrics: { delivered: () => void counts.delivered++, failed: () => void counts.failed++, dropped: () => void counts.dropped++ },
    logger: { log: (_level: string, message: string, fields: LogFields = {}) => void lines.push({ message, fields }) },
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pending = (driver: NodeSqliteDriver, name?: string) =>
  (name ? driver.all<{ n: number }>("SELECT COUNT(*) AS n FROM event_outbox WHERE endpoint = ?", name) : driver.all<{ n: number }>("SELECT COUNT(*) AS n FROM event_outbox"))[0]!.n;

function pull(n: number): RegistryEvent {
  return { id: `e${n}`, timestamp: new Date().toISOString(), action: "pull", target: { repository: "public/app", tag: "v1" }, request: { id: `r${n}`, method: "GET" }, actor: {}, source: { instanceID: "test" } };
}

describe("claims", () => {
  it("two connections delivering one outbox send each row once", async () => {
    const db = await database();
    const hook = await receiver((_req, res) => void setTimeout(() => res.writeHead(200).end(), 5));
    const [a, b] = [db.open(), db.open()];
    a.outbox.add(Array.from({ length: 200 }, (_, i) => ({ endpoint: "hook", body: `{"n":${i}}`, maxPending: 10_000 })), Date.now());
    const log = recorder();
    const deliveries = [a, b].map(({ outbox }, i) => new EventDelivery({ outbox, endpoints: [endpoint("hook", hook.url)], logger: log.logger, metrics: log.metrics, owner: `owner-${i}`, pollMs: 20 }));
    for (const delivery of deliveries) cleanups.push(() => delivery.stop()), delivery.start();
    await until(() => pending(a.driver) === 0);
    expect(hook.bodies).toHaveLength(200);
    expect(new Set(hook.bodies).size).toBe(200);
    expect(log.counts.delivered).toBe(200);
  });

  it("a sender killed mid-send keeps its rows claimed until the claim expires, then another sends them", async () => {
    const { outbox } = (await database()).open();
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], 1000);
    expect(outbox.claimDue("killed", "hook", 1000, 40_000, 32)).toHaveLength(1);
    // The killed owner never reports: no one else may send the row while its claim is live ...
    expect(outbox.claimDue("other", "hook", 39_999, 80_000, 32)).toHaveLength(0);
    // ... and it comes back, with its attempts unchanged, once the claim has expired.
    expect(outbox.claimDue("other", "hook", 40_000, 80_000, 32)).toEqual([expect.objectContaining({ endpoint: "hook", attempts: 0 })]);
  });
});

describe("a receiver that never answers", () => {
  it("holds only its own endpoint's deliveries: another endpoint's event arrives at once", async () => {
    const db = await database();
    const { driver, outbox } = db.open();
    const hung = await receiver(() => undefined);
    const fine = await receiver((_req, res) => res.writeHead(200).end());
    // More than one claim's worth for the hung endpoint, recorded first.
    outbox.add(Array.from({ length: 70 }, (_, i) => ({ endpoint: "hung", body: `{"n":${i}}`, maxPending: 10_000 })), Date.now());
    const log = recorder();
    // The hung endpoint's sends wait far longer than the bound below: an arrival within it was not held behind them.
    const delivery = new EventDelivery({ outbox, endpoints: [endpoint("hung", hung.url, { timeoutMs: 30_000 }), endpoint("fine", fine.url)], logger: log.logger, metrics: log.metrics, owner: "o", pollMs: 20 });
    cleanups.push(() => delivery.stop());
    delivery.start();
    await until(() => hung.bodies.length >= 32);
    const sentAt = Date.now();
    outbox.add([{ endpoint: "fine", body: '{"late":true}', maxPending: 10_000 }], Date.now());
    delivery.nudge();
    await until(() => fine.bodies.length === 1, 10_000);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(pending(driver, "fine")).toBe(0);
  });
});

describe("a dead receiver and a flood of events", () => {
  it("keeps at most maxPending rows of the endpoint, counts every refused event and logs once", async () => {
    const db = await database();
    const dead = await receiver((req) => req.socket.destroy());
    const alive = await receiver((_req, res) => res.writeHead(200).end());
    const log = recorder();
    const events = openNodeEvents(db.dir, { endpoints: [endpoint("dead", dead.url, { maxPending: 5 }), endpoint("alive", alive.url)] }, { logger: log.logger, metrics: log.metrics, owner: "o" });
    cleanups.push(() => events.close());
    for (let i = 0; i < 20; i++) await events.sink.record([pull(i)]);
    const { driver } = db.open();
    expect(pending(driver, "dead")).toBeLessThanOrEqual(5);
    expect(log.counts.dropped).toBe(15);
    expect(log.lines.filter((line) => line.message === "events dropped: the outbox holds maxPending events for the endpoint")).toHaveLength(1);
    // The other endpoint was not limited by the dead one's bound.
    await until(() => alive.bodies.length === 20);
  });
});

describe("what a receiver answers", () => {
  it("does not follow a redirect to another host: nothing signed reaches it, the attempt failed", async () => {
    const elsewhere = await receiver((_req, res) => res.writeHead(200).end());
    const redirecting = await receiver((_req, res) => res.writeHead(307, { Location: elsewhere.url }).end());
    const { outbox } = (await database()).open();
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], Date.now());
    const log = recorder();
    const delivery = new EventDelivery({ outbox, endpoints: [endpoint("hook", redirecting.url, { secret: "0123456789abcdef", headers: { Authorization: "Bearer receiver-token" } })], logger: log.logger, metrics: log.metrics, owner: "o", pollMs: 20 });
    cleanups.push(() => delivery.stop());
    delivery.start();
    await until(() => log.counts.failed === 1);
    expect(redirecting.bodies).toHaveLength(1);
    expect(elsewhere.bodies).toHaveLength(0);
    expect(JSON.stringify(log.lines)).not.toContain("receiver-token");
  });

  it("never reads an endless answer body: a 200 that streams forever is delivered at once", async () => {
    const db = await database();
    const { driver, outbox } = db.open();
    let written = 0;
    const endless = await receiver((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.byteLength;
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], Date.now());
    const log = recorder();
    const delivery = new EventDelivery({ outbox, endpoints: [endpoint("hook", endless.url)], logger: log.logger, metrics: log.metrics, owner: "o", pollMs: 20 });
    cleanups.push(() => delivery.stop());
    delivery.start();
    await until(() => log.counts.delivered === 1, 3000);
    expect(pending(driver)).toBe(0);
    // What was sent before the cancel reached the server: socket buffers, not the body.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("a configuration without an endpoint that still has rows", () => {
  it("drops its rows at start, counted and logged once, and delivers the rest", async () => {
    const db = await database();
    const { driver, outbox } = db.open();
    const hook = await receiver((_req, res) => res.writeHead(200).end());
    outbox.add([{ endpoint: "gone", body: "{}", maxPending: 10 }, { endpoint: "gone", body: "{}", maxPending: 10 }, { endpoint: "hook", body: "{}", maxPending: 10 }], Date.now());
    const log = recorder();
    const delivery = new EventDelivery({ outbox, endpoints: [endpoint("hook", hook.url)], logger: log.logger, metrics: log.metrics, owner: "o", pollMs: 20 });
    cleanups.push(() => delivery.stop());
    delivery.start();
    await until(() => hook.bodies.length === 1);
    expect(pending(driver)).toBe(0);
    expect(log.counts.dropped).toBe(2);
    expect(log.lines.filter((line) => line.message === "events dropped: their endpoint is no longer configured")).toEqual([{ message: "events dropped: their endpoint is no longer configured", fields: { endpoint: "gone", count: 2 } }]);
  });
});

/** Records the connection's `PRAGMA synchronous` (1 NORMAL, 2 FULL) as each outbox insert runs. */
class SyncRecordingDriver extends NodeSqliteDriver {
  readonly inserts: number[] = [];
  override run(sql: string, ...params: (string | number | null)[]): boolean {
    if (sql.startsWith("INSERT INTO event_outbox")) this.inserts.push(this.synchronous());
    return super.run(sql, ...params);
  }
}

describe("durability of outbox rows (core/storage-layout.ts, Durability)", () => {
  it("commits pulls' events without a flush (NORMAL) and every other event with FULL; FULL again after", async () => {
    const db = await database();
    const driver = new SyncRecordingDriver(join(db.dir, DATABASE_FILE));
    cleanups.push(() => driver.close());
    createEventTables(driver);
    const outbox = new SqlOutbox(driver);
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], Date.now(), { durable: false });
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], Date.now());
    outbox.add([{ endpoint: "hook", body: "{}", maxPending: 10 }], Date.now(), { durable: true });
    expect(driver.inserts).toEqual([1, 2, 2]);
    expect(driver.synchronous()).toBe(2);
  });
});

