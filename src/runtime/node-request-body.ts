/**
 * A request body read straight from Node's IncomingMessage. Through the Request that
 * @hono/node-server builds, each 64 KiB socket chunk passes two web streams (Readable.toWeb
 * and the wrapper it puts around it), with their promises and queues: about 10 % of the
 * server's busy time during a push. Here each chunk is one 'data' event and at most one
 * promise. Back-pressure: the socket is paused while a few chunks wait to be read.
 */
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { ByteReader, ByteSource } from "../core/streams.ts";
import { freeChunk } from "./node-chunk-memory.ts";

/** Chunks queued before the socket is paused (each up to 64 KiB). */
const QUEUED_CHUNKS = 4;

/** The body of `c`'s request on Node, or undefined where there is no IncomingMessage (app.request in tests). */
export function nodeRequestBody(c: Context): ByteSource | null | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== "function") return undefined;
  // Like the Request's body: none for GET and HEAD, a (maybe empty) one for any other method.
  if (incoming.method === "GET" || incoming.method === "HEAD") return null;
  // Already read, in part or whole (a middleware): only the Request still knows the bytes.
  if (incoming.readableDidRead) return undefined;
  return { getReader: () => new IncomingReader(incoming) };
}

class IncomingReader implements ByteReader {
  readonly #incoming: IncomingMessage;
  readonly #queue: Uint8Array[] = [];
  #ended = false;
  #failure: Error | null = null;
  #waiting: { resolve: (result: ReadableStreamReadResult<Uint8Array>) => void; reject: (error: Error) => void } | null = null;
  #detached = false;

  constructor(incoming: IncomingMessage) {
    this.#incoming = incoming;
    incoming.on("data", this.#onData);
    incoming.on("end", this.#onEnd);
    incoming.on("error", this.#onError);
    incoming.on("close", this.#onClose);
    if (incoming.readableEnded) this.#onEnd();
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const chunk = this.#queue.shift();
    if (chunk) {
      if (this.#queue.length < QUEUED_CHUNKS && this.#incoming.isPaused() && !this.#detached) this.#incoming.resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    if (this.#incoming.isPaused() && !this.#detached) this.#incoming.resume();
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  /**
   * Stops listening and leaves the socket paused; @hono/node-server drains or closes it after the
   * answer. A read still waiting fails with `reason` (the body's stall timeout ends one this way).
   */
  async cancel(reason?: unknown): Promise<void> {
    this.#detach();
    this.#queue.length = 0;
    this.#incoming.pause();
    this.#failure ??= reason instanceof Error ? reason : new Error("the request body was cancelled");
    this.#settle();
  }

  /**
   * Frees a chunk once the engine copied it into a part buffer (node-chunk-memory.ts). Node's
   * HTTP parser copies each piece of body into a Buffer of its own, and this reader is the body's
   * only consumer (nodeRequestBody refuses a body another has begun): no one else holds the chunk.
   */
  recycle(chunk: Uint8Array): void {
    freeChunk(chunk);
  }

  #onData = (chunk: Buffer) => {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      return waiting.resolve({ done: false, value: chunk });
    }
    this.#queue.push(chunk);
    if (this.#queue.length >= QUEUED_CHUNKS) this.#incoming.pause();
  };

  #onEnd = () => {
    this.#ended = true;
    this.#detach();
    this.#settle();
  };

  #onError = (error: Error) => {
    this.#failure ??= error;
    this.#detach();
    this.#settle();
  };

  /** Closed before its end: the client went away mid-body. */
  #onClose = () => {
    if (this.#ended || this.#incoming.complete) return;
    this.#onError(new Error("the client closed the connection before the end of the request body"));
  };

  #settle(): void {
    const waiting = this.#waiting;
    if (!waiting || this.#queue.length > 0) return;
    this.#waiting = null;
    if (this.#failure) waiting.reject(this.#failure);
    else waiting.resolve({ done: true, value: undefined });
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#incoming.off("data", this.#onData);
    this.#incoming.off("end", this.#onEnd);
    this.#incoming.off("error", this.#onError);
    this.#incoming.off("close", this.#onClose);
  }
}
