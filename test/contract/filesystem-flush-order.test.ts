/**
 * What the filesystem blob store flushes, and when (core/storage-layout.ts, "Durability"),
 * read from the system calls themselves: a child process uploads two parts and completes
 * the upload under strace. No part is flushed while it is uploaded; completion flushes
 * every part and the upload directory before it renames the directory into .segmented/,
 * and flushes the new parent after the rename, before it returns.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const STORE = new URL("../../src/adapters/filesystem/blob-store.ts", import.meta.url).pathname;
const hasStrace = spawnSync("strace", ["-V"]).status === 0;

describe.skipIf(!hasStrace && process.env.CI !== "true")("filesystem blob store flushes, traced with strace", () => {
  it("parts are written without a flush; completion flushes every part and the directories before the blob is in place", async () => {
    const dir = await mkdtemp(join(tmpdir(), "registry-flush-order-"));
    try {
      const script = join(dir, "upload.ts");
      await writeFile(script, `
        import { writeSync } from "node:fs";
        import { FilesystemBlobStore } from ${JSON.stringify(STORE)};
        const store = new FilesystemBlobStore(${JSON.stringify(join(dir, "blobs"))});
        const id = await store.createMultipartUpload("blobs/chunked/x");
        const parts = [
          await store.uploadPart("blobs/chunked/x", id, 1, new Uint8Array(5 * 1024 * 1024).fill(1)),
          await store.uploadPart("blobs/chunked/x", id, 2, new Uint8Array(1000).fill(2)),
        ];
        writeSync(2, "COMPLETING\\n");
        await store.completeMultipartUpload("blobs/chunked/x", id, parts);
        writeSync(2, "COMPLETED\\n");
      `);
      const log = join(dir, "strace.log");
      const run = spawnSync("strace", ["-f", "-qq", "-y", "-o", log, "-e", "trace=fdatasync,fsync,rename,renameat,renameat2,write", process.execPath, script], { encoding: "utf8" });
      expect(run.stderr).toContain("COMPLETED");
      expect(run.status).toBe(0);
      const calls = (await readFile(log, "utf8")).split("\n").filter((line) => /fdatasync|fsync|rename|COMPLET/.test(line));
      const at = (pattern: RegExp) => calls.findIndex((line) => pattern.test(line));
      const completing = at(/write\(2.*COMPLETING/);
      const completed = at(/write\(2.*COMPLETED/);
      expect(completing).toBeGreaterThan(0);
      const before = calls.slice(0, completing);
      const during = calls.slice(completing, completed);
      // While parts are uploaded: renamed into the upload directory, never flushed.
      expect(before.filter((line) => /\.multipart\/[0-9a-f]{32}\/[12]\.[0-9a-f]{32}"/.test(line) && /rename/.test(line))).toHaveLength(2);
      expect(before.filter((line) => /fdatasync|fsync/.test(line))).toEqual([]);
      // Completion: each part flushed, then the upload directory, then the rename into .segmented/, then its parent.
      const partFlushes = during.map((line, i) => (/fdatasync\(\d+<[^>]*\/\.multipart\/[0-9a-f]{32}\/[12]\.[0-9a-f]{32}>/.test(line) ? i : -1)).filter((i) => i >= 0);
      expect(partFlushes).toHaveLength(2);
      const dirFlush = during.findIndex((line) => /fsync\(\d+<[^>]*\/\.multipart\/[0-9a-f]{32}>/.test(line));
      const moved = during.findIndex((line) => /rename.*\.multipart\/[0-9a-f]{32}".*\.segmented\/blobs\/chunked\/x"/.test(line));
      const parentFlush = during.findIndex((line) => /fsync\(\d+<[^>]*\/\.segmented\/blobs\/chunked>/.test(line));
      expect(Math.max(...partFlushes)).toBeLessThan(dirFlush);
      expect(dirFlush).toBeLessThan(moved);
      expect(moved).toBeLessThan(parentFlush);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a part is written in writes of at most 256 KiB, several at their own offsets, and its bytes are the part's (files.ts WRITE_SLICE)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "registry-write-size-"));
    try {
      const script = join(dir, "upload.ts");
      await writeFile(script, `
        import { readdirSync, readFileSync, writeSync } from "node:fs";
        import { join } from "node:path";
        import { FilesystemBlobStore } from ${JSON.stringify(STORE)};
        const root = ${JSON.stringify(join(dir, "blobs"))};
        const store = new FilesystemBlobStore(root);
        const id = await store.createMultipartUpload("blobs/sliced/x");
        const part = new Uint8Array(5 * 1024 * 1024 + 1000).map((_, i) => (i * 31 + (i >> 18)) & 0xff);
        const parts = [await store.uploadPart("blobs/sliced/x", id, 1, part)];
        await store.completeMultipartUpload("blobs/sliced/x", id, parts);
        const folder = join(root, ".segmented", "blobs", "sliced", "x");
        const stored = readFileSync(join(folder, readdirSync(folder).find((name) => name.startsWith("1."))));
        writeSync(2, Buffer.compare(stored, part) === 0 ? "SAME BYTES\\n" : "OTHER BYTES\\n");
      `);
      const log = join(dir, "strace.log");
      // -ff: one file per thread, so that writes in flight together are not split across lines.
      const run = spawnSync("strace", ["-ff", "-qq", "-y", "-o", log, "-e", "trace=write,pwrite64,writev,pwritev,pwritev2", process.execPath, script], { encoding: "utf8" });
      expect(run.status).toBe(0);
      expect(run.stderr).toContain("SAME BYTES");
      const traces = (await readdir(dir)).filter((name) => name.startsWith("strace.log."));
      const lines = (await Promise.all(traces.map((name) => readFile(join(dir, name), "utf8")))).flatMap((text) => text.split("\n"));
      // The part's writes are positioned (pwrite64), so that several can be in flight; the
      // index file written at completion uses plain writes.
      const sizes = lines.filter((line) => /^pwrite64\(\d+<[^>]*\/\.tmp\/[0-9a-f]{32}>/.test(line)).map((line) => Number(/= (\d+)$/.exec(line)?.[1] ?? Number.NaN));
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(5 * 1024 * 1024 + 1000);
      expect(Math.max(...sizes)).toBe(256 * 1024);
      expect(sizes).toHaveLength(21);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
