/**
 * A request that sends its head and part of its body over a raw socket, then stops sending
 * (what a stalled or malicious client does), and the answer the server gives while it waits.
 */
import { connect, type Socket } from "node:net";

export interface StalledRequest {
  /**
   * Resolves with the status and raw text of the answer once the server closes the connection (or
   * `waitMs` passes: status 0). `afterMs` is when the connection closed, `firstByteMs` when the
   * answer began (-1 if none came): a server may answer at once and close later.
   */
  answer(waitMs: number): Promise<{ status: number; text: string; afterMs: number; firstByteMs: number }>;
  close(): void;
}

export async function stalledRequest(options: {
  port: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Declared with Content-Length; only `sent` bytes of it are sent. */
  declaredBytes: number;
  sentBytes: number;
  /** Local address to connect from (any of 127.0.0.0/8), so tests can be several clients. */
  from?: string;
}): Promise<StalledRequest> {
  const socket: Socket = connect({ host: "127.0.0.1", port: options.port, ...(options.from ? { localAddress: options.from } : {}) });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const started = Date.now();
  let text = "";
  let firstByteMs = -1;
  socket.on("data", (chunk: Buffer) => {
    if (firstByteMs < 0) firstByteMs = Date.now() - started;
    text += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const head = [`${options.method} ${options.path} HTTP/1.1`, "Host: 127.0.0.1", `Content-Length: ${options.declaredBytes}`, ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${head.join("\r\n")}\r\n\r\n`);
  if (options.sentBytes > 0) socket.write(Buffer.alloc(options.sentBytes, 0x61));
  return {
    async answer(waitMs) {
      const timedOut = await Promise.race([closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), waitMs))]);
      const status = timedOut && !text ? 0 : Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      return { status, text, afterMs: Date.now() - started, firstByteMs };
    },
    close: () => socket.destroy(),
  };
}
