/**
 * A request body that records how much of it a reader pulled: for the tests that prove a
 * limit stops reading (a refused body is not read whole) or that a refused body is drained.
 * Web APIs only, so the tests inside workerd use it too.
 */

export interface CountedBody {
  stream: ReadableStream<Uint8Array>;
  /** Bytes pulled so far, and whether the reader cancelled the stream. */
  seen: { bytes: number; cancelled: boolean };
}

/**
 * `pieces` chunks of `size` bytes (of `fill`), pulled one at a time (no read-ahead), with no
 * length known in advance; with `stall`, the stream then never ends instead of closing.
 */
export function countedBody(pieces: number, size: number, options: { stall?: boolean; fill?: number } = {}): CountedBody {
  const seen = { bytes: 0, cancelled: false };
  const piece = new Uint8Array(size).fill(options.fill ?? 0);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent === pieces) {
          if (options.stall) return new Promise<void>(() => undefined);
          controller.close();
          return;
        }
        sent++;
        seen.bytes += size;
        controller.enqueue(piece.slice());
      },
      cancel() {
        seen.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}
