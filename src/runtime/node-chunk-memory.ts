/**
 * Frees body chunks as soon as they are done with, rather than at V8's next garbage collection.
 * A request or response body passes through Node as ~50 KiB-1 MiB buffers of its own, and their
 * memory is outside V8's heap: left to the collector it piled up and started a full mark-compact
 * every few tens of MB moved (about 10 per 200 MiB pulled, 4 per 64 MiB pushed), costing as much
 * CPU in V8's helper threads as the main thread spent serving. Detaching a buffer
 * (`ArrayBuffer.prototype.transfer(0)`) frees its memory at once.
 */
import type { ServerResponse } from "node:http";
import { isOwnChunk } from "../ports/blob-store.ts";

/** Frees `chunk`'s memory if it is its buffer's whole view (a slice would take its neighbours with it). */
export function freeChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== buffer.byteLength || !(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
  try {
    // ES2024 (Node 21+); the project's TypeScript lib predates it.
    (buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  } catch {
    // Not detachable (an internal buffer): the collector frees it as before.
  }
}

type WriteCallback = (error?: Error | null) => void;

/**
 * Makes `response` free each chunk a blob store marked as its own (ports/blob-store.ts) once the
 * chunk is written: in `write`'s callback, which Node calls when the socket has finished with
 * the bytes (written, or the connection gone), never before. Other writes pass through as they are.
 */
export function freeChunksOnceWritten(response: ServerResponse): void {
  // write's overloads, called with the arguments as they came (chunk, [encoding], [callback]).
  const write = response.write as (this: ServerResponse, ...args: unknown[]) => boolean;
  response.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    if (!isOwnChunk(chunk)) return write.call(this, chunk, ...rest);
    const done = rest.find((arg): arg is WriteCallback => typeof arg === "function");
    return write.call(this, chunk, (error?: Error | null) => {
      freeChunk(chunk);
      done?.(error);
    });
  } as ServerResponse["write"];
}
