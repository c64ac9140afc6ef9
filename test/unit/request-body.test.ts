/**
 * The wrappers every upload chunk passes on Node (src/http/request-body.ts): the byte count of
 * the request log and the body's stall timeout. The timeout keeps one watchdog timer per body,
 * so these tests pin what the per-read timer it replaced guaranteed: only time spent waiting in
 * a read counts, every read gets its whole timeout, and a stalled read fails with the error.
 * The same timeout over real sockets: test/socket/request-limits.test.ts.
 */
import { describe, expect, it, vi } from "vitest";
import type { ByteReader, ByteSource } from "../../src/core/streams.ts";
import { countedSource, timedSource } from "../../src/http/request-body.ts";

const TIMEOUT_MS = 80;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A reader whose reads resolve after `delays[i]` ms (then end), and whose cancel fails a waiting read with the reason. */
function scriptedSource(delays: number[]): { source: ByteSource; cancelled: unknown[] } {
  const cancelled: unknown[] = [];
  let index = 0;
  let waiting: ((error: unknown) => void) | null = null;
  const reader: ByteReader = {
    read: () => {
      if (index >= delays.length) return Promise.resolve({ done: true, value: undefined });
      const delay = delays[index]!;
      const value = new Uint8Array(index + 1);
      index++;
      return new Promise((resolve, reject) => {
        waiting = reject;
        if (Number.isFinite(delay)) setTimeout(() => resolve({ done: false, value }), delay);
      });
    },
    cancel: async (reason) => {
      cancelled.push(reason);
      waiting?.(reason);
    },
  };
  return { source: { getReader: () => reader }, cancelled };
}

const stalledError = () => new Error("stalled");

describe("timedSource: a body that stops sending fails the read waiting for it", () => {
  it("fails a read that waits longer than the timeout with the stalled error, and cancels the reader under it with that error", async () => {
    const { source, cancelled } = scriptedSource([0, Infinity]);
    const reader = timedSource(source, TIMEOUT_MS, stalledError).getReader();
    expect((await reader.read()).done).toBe(false);
    const started = performance.now();
    const failure = await reader.read().then(
      () => null,
      (error: unknown) => error,
    );
    const waited = performance.now() - started;
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe("stalled");
    expect(cancelled).toEqual([failure]);
    expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    // Later reads fail the same way rather than wait again.
    await expect(reader.read()).rejects.toBe(failure);
  });

  it("does not count the time between reads (the registry writing what it read)", async () => {
    let stalls = 0;
    const { source } = scriptedSource([0, 5, 0]);
    const reader = timedSource(source, TIMEOUT_MS, () => (stalls++, stalledError())).getReader();
    for (let i = 0; i < 3; i++) {
      expect((await reader.read()).done).toBe(false);
      await sleep(TIMEOUT_MS * 2);
    }
    expect((await reader.read()).done).toBe(true);
    expect(stalls).toBe(0);
  });

  it("gives a read that begins late in the watchdog's period its whole timeout", async () => {
    // The first read arms the watchdog; the second begins 0.75 timeout later and takes 0.6 of one:
    // it ends after the watchdog first fires, yet within its own timeout.
    const { source } = scriptedSource([0, TIMEOUT_MS * 0.6]);
    const reader = timedSource(source, TIMEOUT_MS, stalledError).getReader();
    expect((await reader.read()).done).toBe(false);
    await sleep(TIMEOUT_MS * 0.75);
    const second = await reader.read();
    expect(second.done).toBe(false);
    expect(second.value?.byteLength).toBe(2);
  });

  it("ends a stalled web stream's read with the error, not as the end of the body", async () => {
    const stream = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) }, { highWaterMark: 0 });
    const reader = timedSource({ getReader: () => stream.getReader() }, TIMEOUT_MS, stalledError).getReader();
    await expect(reader.read()).rejects.toThrow("stalled");
  });

  it("leaves no timer behind once the body ended, or once no read is waiting", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      const { source } = scriptedSource([0, 0]);
      const reader = timedSource(source, TIMEOUT_MS, stalledError).getReader();
      const read = async () => {
        const result = reader.read();
        await vi.advanceTimersByTimeAsync(0);
        return result;
      };
      expect(vi.getTimerCount()).toBe(0);
      await read();
      expect(vi.getTimerCount()).toBe(1);
      // No read waiting: the watchdog fires once, finds none, and stops.
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS * 1.5);
      expect(vi.getTimerCount()).toBe(0);
      await read();
      expect(vi.getTimerCount()).toBe(1);
      expect((await read()).done).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("countedSource", () => {
  it("passes every chunk through unchanged and counts its bytes", async () => {
    const sizes: number[] = [];
    const { source } = scriptedSource([0, 0, 0]);
    const reader = countedSource(source, (bytes) => sizes.push(bytes)).getReader();
    const seen: number[] = [];
    for (;;) {
      const result = await reader.read();
      if (result.done) break;
      seen.push(result.value.byteLength);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(sizes).toEqual([1, 2, 3]);
  });
});
