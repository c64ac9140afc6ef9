/**
 * What a crash leaves on local disk is swept soon after the next start (issue 12, "cleanup of
 * leftovers"), against the real process (`node src/runtime/node.ts`) over one DATA_DIR: files no
 * record names and untouched for longer than the grace go; files a record names stay however
 * old they are (an open upload finishes after the sweep), and so does a file still being written.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { startNodeServer } from "../support/node-server.ts";

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

let dataDir = "";
afterAll(() => (dataDir ? rm(dataDir, { recursive: true, force: true }) : undefined));

/** Every file and directory under `dir`, dated `hoursAgo` back: as a crash long ago would have left them. */
async function age(dir: string, hoursAgo: number): Promise<void> {
  const when = new Date(Date.now() - hoursAgo * 3_600_000);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await age(path, hoursAgo);
    await utimes(path, when, when);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

it("sweeps temporary files, multipart folders, tails and unindexed blobs of a crash at start-up, keeps what records name and a write in progress", async () => {
  dataDir = await mkdtemp(join(tmpdir(), "registry-leftovers-"));
  const root = join(dataDir, "blobs");

  // Before the crash: a pushed blob, and an upload left open with one part and a tail.
  const first = await startNodeServer({}, { dataDir });
  const pushed = Buffer.alloc(1000, 1);
  expect((await fetch(`${first.url}/v2/team/app/blobs/uploads/?digest=${sha256(pushed)}`, { method: "POST", body: pushed })).status).toBe(201);
  const opened = await fetch(`${first.url}/v2/team/app/blobs/uploads/`, { method: "POST" });
  const location = opened.headers.get("location")!;
  const open = Buffer.alloc(8 * MiB + 100, 2);
  const head = open.subarray(0, 8 * MiB + 50);
  const patched = await fetch(`${first.url}${location}`, { method: "PATCH", body: head, headers: { "Content-Range": `0-${head.length - 1}`, "Content-Type": "application/octet-stream" } });
  expect(patched.status).toBe(202);
  await first.stop();

  // What a crash leaves that no record names.
  const leftovers = [
    join(root, ".tmp", `put-${randomUUID()}`),
    join(root, ".multipart", randomUUID(), "part-00001"),
    join(root, "uploads", randomUUID(), `tail-${randomUUID()}`),
    join(root, "blobs", "sha256", `${"e".repeat(64)}-${randomUUID()}`),
  ];
  for (const path of leftovers) {
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, Buffer.alloc(MiB, 3));
  }
  await age(root, 2);
  expect((await readdir(join(root, ".multipart"))).length).toBeGreaterThanOrEqual(2); // the open upload's own folder too
  // A write in progress when the sweep runs: recent, so it stays.
  const inProgress = join(root, ".tmp", `put-${randomUUID()}`);
  await writeFile(inProgress, Buffer.alloc(1000, 4));

  const second = await startNodeServer({ GC_INTERVAL_SECONDS: "3600" }, { dataDir });
  try {
    const deadline = Date.now() + 30_000;
    while ((await Promise.all(leftovers.map(exists))).some(Boolean)) {
      if (Date.now() > deadline) throw new Error(`leftovers still there 30 s after start: ${(await Promise.all(leftovers.map(async (p) => ((await exists(p)) ? p : "")))).filter(Boolean).join(", ")}\n${second.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(second.output()).toMatch(/and 4 leftover files \(4(\.0)? MiB\)/);
    expect(await exists(inProgress)).toBe(true);

    const blob = await fetch(`${second.url}/v2/team/app/blobs/${sha256(pushed)}`);
    expect(blob.status).toBe(200);
    expect(Buffer.from(await blob.arrayBuffer()).equals(pushed)).toBe(true);
    const rest = open.subarray(head.length);
    const finished = await fetch(`${second.url}${location}${location.includes("?") ? "&" : "?"}digest=${sha256(open)}`, {
      method: "PUT",
      body: rest,
      headers: { "Content-Range": `${head.length}-${open.length - 1}`, "Content-Type": "application/octet-stream" },
    });
    expect(finished.status, await finished.text()).toBe(201);
    const whole = await fetch(`${second.url}/v2/team/app/blobs/${sha256(open)}`);
    expect(createHash("sha256").update(Buffer.from(await whole.arrayBuffer())).digest("hex")).toBe(sha256(open).slice(7));
  } finally {
    await second.stop();
  }
}, 90_000);
