/**
 * Sends a request whose body is `totalBytes` of chunked transfer encoding over
 * a raw socket, as fast as the server takes it, and stops sending as soon as
 * the server answers: what an attacker streaming a huge body without a
 * Content-Length does. Reports the answer, how much had been sent when it came,
 * and the server's peak memory while it ran.
 */
import { connect } from "node:net";

export interface ChunkedOutcome {
  /** The answer's status, or 0 when the server closed the connection without one. */
  status: number;
  /** The answer's head and whatever of its body arrived. */
  response: string;
  /** Body bytes written to the socket before the first byte of the answer arrived. */
  sentBeforeAnswer: number;
  /** Highest resident memory of the server seen while sending, bytes. */
  peakRss: number;
}

export interface ChunkedRequest {
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  totalBytes: number;
  /** Reads the server's memory; sampled every 20 ms. */
  rss(): Promise<number>;
  timeoutMs?: number;
}

const PIECE = 64 * 1024;

export async function sendChunked(request: ChunkedRequest): Promise<ChunkedOutcome> {
  const socket = connect(request.port, "127.0.0.1");
  let closed = false;
  // Listeners first: the socket may connect (or fail) while the first memory sample is read.
  const connected = new Promise<void>((resolve) => socket.once("connect", resolve));
  const done = new Promise<void>((resolve) => socket.once("close", () => ((closed = true), resolve())));
  socket.on("error", () => {}); // EPIPE / ECONNRESET once the server gives up on the body: expected.
  let response = "";
  let sent = 0;
  let sentBeforeAnswer = -1;
  let peakRss = await request.rss();
  socket.on("data", (chunk: Buffer) => {
    if (sentBeforeAnswer < 0) sentBeforeAnswer = sent;
    response += chunk.toString("latin1");
  });
  const sampler = setInterval(() => {
    request.rss().then((rss) => (peakRss = Math.max(peakRss, rss)), () => {});
  }, 20);
  const deadline = setTimeout(() => socket.destroy(), request.timeoutMs ?? 30_000);
  try {
    await Promise.race([connected, done]);
    const head = [`${request.method} ${request.path} HTTP/1.1`, `Host: 127.0.0.1:${request.port}`, "Transfer-Encoding: chunked"];
    for (const [name, value] of Object.entries(request.headers)) head.push(`${name}: ${value}`);
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    const piece = Buffer.concat([Buffer.from(`${PIECE.toString(16)}\r\n`), Buffer.alloc(PIECE, "a"), Buffer.from("\r\n")]);
    while (sent < request.totalBytes && sentBeforeAnswer < 0 && !closed) {
      const more = socket.write(piece);
      sent += PIECE;
      if (!more) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), done]);
    }
    if (sentBeforeAnswer < 0 && !closed) socket.write("0\r\n\r\n");
    // The answer may still be arriving: wait until it is whole (Content-Length) or the socket closes.
    for (let i = 0; i < 500 && !closed && !complete(response); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    clearInterval(sampler);
    clearTimeout(deadline);
    socket.destroy();
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
  return { status, response, sentBeforeAnswer: sentBeforeAnswer < 0 ? sent : sentBeforeAnswer, peakRss };
}

function complete(response: string): boolean {
  const end = response.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = /\r\ncontent-length: (\d+)/i.exec(response.slice(0, end));
  return length !== null && response.length - end - 4 >= Number(length[1]);
}
