/**
 * An upload moving between registry processes that hash differently (distribution-spec
 * § Pushing a blob in chunks): `npm start` with the native addon and `npm start` with
 * NATIVE_HASHING=false (WebAssembly, as on a machine without a compiler, and as Lambda
 * and Workers hash) share one data directory, one after the other, as a rolling upgrade
 * or a mixed fleet on one DynamoDB table would. Each PATCH ends with a saved hash state
 * that the next process, of the other kind, must resume. Real processes, real sockets.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startNodeServer, type NodeServer } from "../support/node-server.ts";

const PART_SIZE = 5 * 1024 * 1024;
let running: NodeServer | null = null;
let dataDir = "";

afterEach(async () => {
  await running?.stop();
  running = null;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function serve(native: boolean): Promise<NodeServer> {
  await running?.stop();
  running = await startNodeServer({ DATA_DIR: dataDir, PART_SIZE: String(PART_SIZE), NATIVE_HASHING: String(native) });
  expect(running.output()).toContain(native ? "uploads hashed natively (OpenSSL)" : "uploads hashed with WebAssembly");
  return running;
}

async function patch(server: NodeServer, location: string, body: Buffer<ArrayBuffer>, start: number): Promise<string> {
  const response = await fetch(new URL(location, server.url), {
    method: "PATCH",
    headers: { "Content-Type": "application/octet-stream", "Content-Range": `${start}-${start + body.byteLength - 1}` },
    body,
  });
  expect(response.status, await response.clone().text()).toBe(202);
  expect(response.headers.get("Range")).toBe(`0-${start + body.byteLength - 1}`);
  return response.headers.get("Location")!;
}

describe.each(["sha256", "sha512"] as const)("a %s upload handed between native and WebAssembly processes", (algorithm) => {
  it("finishes with the right digest, native → WebAssembly → native and WebAssembly → native → WebAssembly", async () => {
    for (const order of [[true, false, true], [false, true, false]]) {
      dataDir = await mkdtemp(join(tmpdir(), "registry-handover-"));
      // Pieces that end mid-part and mid-block, so each process carries a tail and a partial block.
      const pieces = [randomBytes(PART_SIZE + 12_345), randomBytes(3 * 1024 * 1024 + 7), randomBytes(PART_SIZE - 1)];
      const digest = `${algorithm}:${createHash(algorithm).update(Buffer.concat(pieces)).digest("hex")}`;

      let server = await serve(order[0]!);
      const started = await fetch(`${server.url}/v2/team/handover/blobs/uploads/${algorithm === "sha512" ? "?digest-algorithm=sha512" : ""}`, { method: "POST" });
      expect(started.status).toBe(202);
      let location = started.headers.get("Location")!;
      location = await patch(server, location, pieces[0]!, 0);

      server = await serve(order[1]!);
      location = await patch(server, location, pieces[1]!, pieces[0]!.byteLength);

      server = await serve(order[2]!);
      const separator = location.includes("?") ? "&" : "?";
      const finished = await fetch(new URL(`${location}${separator}digest=${digest}`, server.url), {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream", "Content-Range": `${pieces[0]!.byteLength + pieces[1]!.byteLength}-${pieces[0]!.byteLength + pieces[1]!.byteLength + pieces[2]!.byteLength - 1}` },
        body: pieces[2]!,
      });
      expect(finished.status, await finished.clone().text()).toBe(201);
      expect(finished.headers.get("Docker-Content-Digest")).toBe(digest);

      const pulled = await fetch(`${server.url}/v2/team/handover/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      expect(`${algorithm}:${createHash(algorithm).update(new Uint8Array(await pulled.arrayBuffer())).digest("hex")}`).toBe(digest);
      await running?.stop();
      running = null;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
