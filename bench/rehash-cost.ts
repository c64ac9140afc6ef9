/**
 * What a chunked upload closed with another algorithm than it was hashed with costs: POST
 * without digest-algorithm, PATCHes, then `PUT ?digest=sha512:…`, whose finish reads the
 * assembled blob back once to hash it (core/uploads.ts `store`), against the same upload closed
 * with `?digest=sha256:…`. In-process app over local disk (files + SQLite) in a temporary
 * directory; times the closing PUT only, median of 3.
 *
 *   node bench/rehash-cost.ts [MiB]     (default 256)
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBlobStore } from "../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../src/adapters/sqlite/open.ts";
import { createApp } from "../src/http/app.ts";

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const chunk = 8 * MiB;
const root = await mkdtemp(join(tmpdir(), "rehash-cost-"));
const metadata = openLocalMetadata(root);
const app = createApp({ blobs: new FilesystemBlobStore(join(root, "blobs")), metadata: metadata.store, hashing: hashWasm, partSize: chunk });

async function closingPutMs(algorithm: "sha256" | "sha512", run: number): Promise<number> {
  const bytes = randomBytes(size);
  const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
  const repo = `bench/rehash-${algorithm}-${run}`;
  let location = (await app.request(`/v2/${repo}/blobs/uploads/`, { method: "POST" })).headers.get("location")!;
  for (let offset = 0; offset < size; offset += chunk) {
    const piece = bytes.subarray(offset, Math.min(size, offset + chunk));
    const res = await app.request(location, { method: "PATCH", headers: { "content-range": `${offset}-${offset + piece.length - 1}` }, body: piece });
    if (res.status !== 202) throw new Error(`PATCH answered ${res.status}`);
    location = res.headers.get("location")!;
  }
  const started = performance.now();
  const closed = await app.request(`${location}${location.includes("?") ? "&" : "?"}digest=${digest}`, { method: "PUT" });
  const elapsed = performance.now() - started;
  if (closed.status !== 201) throw new Error(`PUT answered ${closed.status}: ${await closed.text()}`);
  return elapsed;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  for (const algorithm of ["sha256", "sha512"] as const) {
    const times = [];
    for (let run = 0; run < 3; run++) times.push(await closingPutMs(algorithm, run));
    console.log(`${size / MiB} MiB upload hashed with sha256, closed with ?digest=${algorithm}: closing PUT ${median(times).toFixed(0)} ms (median of 3: ${times.map((t) => t.toFixed(0)).join(", ")})`);
  }
} finally {
  metadata.close();
  await rm(root, { recursive: true, force: true });
}
