/**
 * One upstream blob body, read once, sent to two readers: the client and the
 * blob store. The upstream is read at the pace of the slower of the two (each
 * holds at most one chunk), so a slow client cannot make the registry buffer a
 * layer in memory; a client that leaves does not stop the store's copy, and a
 * store that fails does not stop the client's.
 *
 * The bytes are hashed as they pass. The client's last chunk is held back until
 * the whole body has been checked against the digest and `onVerified` (which
 * makes the stored copy visible) has finished: a body that does not match ends
 * the client's stream with an error instead of its last bytes, and the store's
 * write is failed, so neither a client nor the store ever takes wrong bytes as
 * the blob.
 */
import type { ResumableHash } from "../ports/hashing.ts";

export interface VerifiedTee {
  client: ReadableStream<Uint8Array>;
  store: ReadableStream<Uint8Array>;
}

export interface TeeOptions {
  hash: ResumableHash;
  /** `<algorithm>:<hex>` the bytes must hash to. */
  digest: string;
  /** The upstream's Content-Length when it sent one: more or fewer bytes fail like a wrong digest. */
  length: number | undefined;
  /** Runs once the bytes are verified and the store's stream has closed; the client's stream ends after it. */
  onVerified(): Promise<void>;
  /** Runs when the bytes are refused (wrong digest or length, upstream failure). */
  onRefused(error: Error): void;
  /** An upstream that sends nothing for this long fails the body (it would hold both readers forever). */
  idleTimeoutMs: number;
}

export class BlobVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlobVerificationError";
  }
}

export function verifiedTee(source: ReadableStream<Uint8Array>, options: TeeOptions): VerifiedTee {
  const reader = source.getReader();
  const algorithm = options.digest.slice(0, options.digest.indexOf(":"));
  let client!: ReadableStreamDefaultController<Uint8Array>;
  let store!: ReadableStreamDefaultController<Uint8Array>;
  let clientGone = false;
  let storeGone = false;
  let reading = false;
  let finished = false;
  let held: Uint8Array | undefined;
  let seen = 0;

  const ready = (controller: ReadableStreamDefaultController<Uint8Array>, gone: boolean) => gone || (controller.desiredSize ?? 0) > 0;

  const fail = (error: Error) => {
    finished = true;
    if (!storeGone) store.error(error);
    if (!clientGone) client.error(error);
    void reader.cancel(error).catch(() => {});
    options.onRefused(error);
  };

  const finish = async () => {
    finished = true;
    const actual = `${algorithm}:${options.hash.digestHex()}`;
    if (options.length !== undefined && seen !== options.length) return fail(new BlobVerificationError(`the upstream sent ${seen} bytes of ${options.digest}, not the ${options.length} it announced`));
    if (actual !== options.digest) return fail(new BlobVerificationError(`the upstream's bytes for ${options.digest} hash to ${actual}; refused, not stored`));
    if (!storeGone) store.close();
    try {
      await options.onVerified();
    } catch {
      // The copy could not be kept (full disk, …): the client still gets the verified bytes.
    }
    if (clientGone) return;
    if (held) client.enqueue(held);
    client.close();
  };

  const pump = async (): Promise<void> => {
    if (reading || finished) return;
    if (!ready(client, clientGone) || !ready(store, storeGone)) return;
    if (clientGone && storeGone) {
      const error = new BlobVerificationError(`both the client and the store stopped reading ${options.digest}`);
      finished = true;
      await reader.cancel(error).catch(() => {});
      options.onRefused(error);
      return;
    }
    reading = true;
    let chunk: ReadableStreamReadResult<Uint8Array>;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nothing arrived for ${options.idleTimeoutMs / 1000} s`)), options.idleTimeoutMs);
    });
    try {
      chunk = await Promise.race([reader.read(), idle]);
    } catch (error) {
      reading = false;
      return fail(new BlobVerificationError(`the upstream stopped sending ${options.digest}: ${(error as Error).message}`));
    } finally {
      clearTimeout(timer);
    }
    reading = false;
    if (chunk.done) return finish();
    const bytes = chunk.value;
    seen += bytes.byteLength;
    if (options.length !== undefined && seen > options.length) return fail(new BlobVerificationError(`the upstream sent more than the ${options.length} bytes it announced for ${options.digest}`));
    options.hash.update(bytes);
    if (!storeGone) store.enqueue(bytes);
    if (!clientGone) {
      if (held) client.enqueue(held);
      held = bytes;
    }
    return pump();
  };

  const stream = (assign: (c: ReadableStreamDefaultController<Uint8Array>) => void, leave: () => void) =>
    new ReadableStream<Uint8Array>(
      {
        start: assign,
        pull: () => pump(),
        cancel: () => {
          leave();
          return pump();
        },
      },
      { highWaterMark: 1 },
    );

  return {
    client: stream((c) => (client = c), () => (clientGone = true)),
    store: stream((c) => (store = c), () => (storeGone = true)),
  };
}
