/**
 * One HTTP exchange over node:http/https, with a streamed request body of a length we state
 * (fetch sends a stream with Transfer-Encoding: chunked and no Content-Length, which a registry
 * behind a body limit must buffer or refuse) and a streamed answer.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

/** A socket that neither sends nor receives for this long is given up (the request fails; the caller may resume). */
const IDLE_TIMEOUT_MS = 120_000;

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export function send(url: URL, method: string, headers: Record<string, string>, body?: Readable | Uint8Array): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === "https:";
    const request = (secure ? httpsRequest : httpRequest)(url, { method, headers, agent: secure ? agents.https : agents.http });
    request.setTimeout(IDLE_TIMEOUT_MS, () => request.destroy(new Error(`no progress for ${IDLE_TIMEOUT_MS / 1000} s`)));
    request.on("response", (response) => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response }));
    request.on("error", (error) => {
      if (body && !(body instanceof Uint8Array)) body.destroy();
      reject(error);
    });
    if (body === undefined) request.end();
    else if (body instanceof Uint8Array) request.end(body);
    else {
      body.on("error", (error) => request.destroy(error));
      body.pipe(request);
    }
  });
}

/** Reads a small answer whole, refusing more than `limit` bytes. */
export async function readSmall(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      body.destroy();
      throw new Error(`answer larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drops an answer's body, so that its connection can be reused. */
export function discard(answer: HttpAnswer): void {
  answer.body.resume();
}

export function header(answer: HttpAnswer, name: string): string | undefined {
  const value = answer.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
