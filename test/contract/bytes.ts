/** Byte patterns and stream helpers for the blob-store contract (vitest and web APIs only). */
import { expect } from "vitest";
import type { BlobStore, ByteRange } from "../../src/ports/blob-store.ts";

export const MiB = 1024 * 1024;

/** `size` bytes of a cheap pattern that differs by `seed`, so misplaced or mixed-up bytes show. */
export function bytes(size: number, seed = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return out;
}

export function streamOf(data: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(...chunks);
    chunks.push(value);
  }
}

export async function digestOf(algorithm: "sha256" | "sha512", data: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", data);
  return `${algorithm}:${Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Compares without vitest printing megabytes on failure. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  const firstDifference = actual.findIndex((byte, i) => byte !== expected[i]);
  expect(firstDifference).toBe(-1);
}

/** A get, read to the end; fails the test when the key is empty. */
export async function readObject(store: BlobStore, key: string, range?: ByteRange): Promise<{ size: number; bytes: Uint8Array }> {
  const object = await store.get(key, range);
  if (!object) throw new Error(`nothing at ${key}`);
  return { size: object.size, bytes: await readAll(object.body) };
}
