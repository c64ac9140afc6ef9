import { keepChunk } from "../ports/blob-store.ts";
import { RegistryError } from "./errors.ts";

/**
 * What the upload engine reads a request body through: a ReadableStream, or a runtime's
 * cheaper reader of the same bytes (Node: the IncomingMessage read directly, without two
 * layers of web-stream adapters per 64 KiB chunk; see runtime/node-request-body.ts).
 */
export interface ByteSource {
  getReader(): ByteReader;
}

export interface ByteReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Stops reading; what is left of the body is the runtime's to drain or drop. */
  cancel(reason?: unknown): Promise<void>;
  /**
   * The caller is done with `chunk` (a value this reader returned) and keeps no view of it: the
   * reader may free its memory now rather than at the next garbage collection (Node: the HTTP
   * parser copies each piece of body into a buffer of its own). Optional; after it the chunk
   * must not be read.
   */
  recycle?(chunk: Uint8Array): void;
}

/** `source` as a ReadableStream, for the paths (whole-blob puts) that hand it to a store. */
export function asReadableStream(source: ByteSource): ReadableStream<Uint8Array> {
  if (source instanceof ReadableStream) return source as ReadableStream<Uint8Array>;
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** Reads a stream into memory, refusing more than `limit` bytes. Only for small bodies (manifests, tails). */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    // Kept (a single chunk is returned as it is), so no longer the producer's to free.
    chunks.push(keepChunk(value));
  }
  return concatBytes(chunks, size);
}

export function concatBytes(chunks: Uint8Array[], size = chunks.reduce((n, c) => n + c.byteLength, 0)): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === size) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Passes bytes through, failing the stream with SIZE_INVALID when the count
 * differs from `expected` (the request's Content-Length or Content-Range).
 */
export function exactLength(body: ReadableStream<Uint8Array>, expected: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > expected) throw lengthMismatch(expected, seen);
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== expected) throw lengthMismatch(expected, seen);
      },
    }),
  );
}

/** SIZE_INVALID for a body that carried `seen` bytes (so far) against a declared `expected`. */
export function lengthMismatch(expected: number, seen: number): RegistryError {
  return new RegistryError("SIZE_INVALID", `the request declared ${expected} bytes but carried ${seen}`);
}
