/**
 * The two tees the pull-through and edge caches use (src/core/paced-tee.ts,
 * src/proxy/verified-tee.ts): the source is read at the slower reader's pace, a reader
 * that leaves does not stop the other, and wrong bytes never end a stream as if whole.
 */
import { describe, expect, it } from "vitest";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { pacedTee } from "../../src/core/paced-tee.ts";
import { verifiedTee } from "../../src/proxy/verified-tee.ts";
import { createHash } from "node:crypto";

/** A source of `count` 1 KiB chunks that records how many were pulled. */
function countingSource(count: number, fill = (i: number) => i) {
  const state = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (state.pulled === count) return controller.close();
        controller.enqueue(new Uint8Array(1024).fill(fill(state.pulled)));
        state.pulled++;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("pacedTee", () => {
  it("reads the source no faster than the slower branch", async () => {
    const { stream, state } = countingSource(100);
    const [fast, slow] = pacedTee(stream);
    let total = 0;
    const reading = (async () => {
      const reader = fast.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        total += value.byteLength;
      }
    })();
    for (let i = 0; i < 5; i++) await tick();
    // The slow branch has read nothing: at most a chunk or two are held for it.
    expect(state.pulled).toBeLessThanOrEqual(2);
    await slow.cancel();
    await reading;
    expect(state.pulled).toBe(100);
    expect(total).toBe(100 * 1024);
  });

  it("gives both branches every byte", async () => {
    const { stream } = countingSource(20);
    const [a, b] = pacedTee(stream);
    const [x, y] = await Promise.all([drain(a), drain(b)]);
    expect(x.byteLength).toBe(20 * 1024);
    expect(y).toEqual(x);
  });
});

describe("verifiedTee", () => {
  const bytesOf = (count: number) => {
    const out = new Uint8Array(count * 1024);
    for (let i = 0; i < count; i++) out.fill(i, i * 1024, (i + 1) * 1024);
    return out;
  };
  const digestOf = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

  it("ends both streams whole when the bytes match, after onVerified", async () => {
    const expected = bytesOf(10);
    const events: string[] = [];
    const tee = verifiedTee(countingSource(10).stream, {
      hash: await hashWasm.resumable("sha256"),
      digest: digestOf(expected),
      length: expected.byteLength,
      idleTimeoutMs: 60_000,
      onVerified: async () => void events.push("verified"),
      onRefused: () => void events.push("refused"),
    });
    const [client, store] = await Promise.all([drain(tee.client).then((b) => (events.push("client done"), b)), drain(tee.store)]);
    expect(client).toEqual(expected);
    expect(store).toEqual(expected);
    expect(events).toEqual(["verified", "client done"]);
  });

  it("fails both streams, never closing the client's, when the bytes do not match", async () => {
    const refused: string[] = [];
    const tee = verifiedTee(countingSource(10, (i) => (i === 9 ? 0xff : i)).stream, {
      hash: await hashWasm.resumable("sha256"),
      digest: digestOf(bytesOf(10)),
      length: 10 * 1024,
      idleTimeoutMs: 60_000,
      onVerified: async () => void refused.push("verified"),
      onRefused: (error) => void refused.push(error.message),
    });
    await expect(Promise.all([drain(tee.client), drain(tee.store)])).rejects.toThrow(/hash to sha256:/);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/refused, not stored/);
  });

  it("keeps storing when the client leaves half-way", async () => {
    const expected = bytesOf(50);
    let verified = false;
    const tee = verifiedTee(countingSource(50).stream, {
      hash: await hashWasm.resumable("sha256"),
      digest: digestOf(expected),
      length: expected.byteLength,
      idleTimeoutMs: 60_000,
      onVerified: async () => void (verified = true),
      onRefused: () => {},
    });
    // The store reads all along, as a blob store's put does.
    const stored = drain(tee.store);
    const client = tee.client.getReader();
    await client.read();
    await client.cancel();
    expect(await stored).toEqual(expected);
    await tick();
    expect(verified).toBe(true);
  });

  it("fails both streams when the upstream stops sending mid-body", async () => {
    let sent = 0;
    const stalled = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Two chunks, then nothing ever again (a pull that never settles).
        if (sent++ < 2) controller.enqueue(new Uint8Array(1024));
        else return new Promise<void>(() => {});
      },
    }, { highWaterMark: 0 });
    const refused: string[] = [];
    const tee = verifiedTee(stalled, {
      hash: await hashWasm.resumable("sha256"),
      digest: `sha256:${"0".repeat(64)}`,
      length: 4096,
      idleTimeoutMs: 100,
      onVerified: async () => {},
      onRefused: (error) => void refused.push(error.message),
    });
    await expect(Promise.all([drain(tee.client), drain(tee.store)])).rejects.toThrow(/stopped sending/);
    expect(refused).toEqual([expect.stringContaining("nothing arrived for 0.1 s")]);
  });
});
