/**
 * A local stand-in for a Lambda Function URL: an HTTP server on 127.0.0.1 that
 * turns each request into a payload-format-2.0 event, invokes the Lambda handler
 * (src/runtime/lambda.ts) in this process, and writes its result back, so real
 * clients (skopeo, podman) can be pointed at the Lambda. It keeps the limits that
 * shape the split deployment: the body is buffered whole (BUFFERED invoke mode),
 * an event over 6 MB is refused with AWS's own 413 before the function runs, and
 * a binary body goes base64-encoded. What it is not: Lambda's one-request-per-
 * instance concurrency, its timeouts, or AWS's exact choice of which bodies to encode.
 *
 *   node test/aws/local/function-url-front.ts     settings from the environment, as the
 *                                                 function has them (S3_BUCKET, AUTH_CONFIG,
 *                                                 UPLOAD_URL, …); PORT (default: any free one)
 *
 * Prints `function URL front listening on http://127.0.0.1:<port>` once it serves,
 * and one JSON line per request (method, path, status, location, bytesIn) on stderr.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { APIGatewayProxyResult, LambdaEvent } from "hono/aws-lambda";
import { createLambdaHandler } from "../../../src/runtime/lambda.ts";
import { bodyOf, functionUrlEvent } from "./function-url.ts";

/** Lambda's invocation payload limit (synchronous invocation, request), bytes. */
const LAMBDA_PAYLOAD_LIMIT = 6_291_456;

const handler = createLambdaHandler(process.env);

function eventOf(request: IncomingMessage, body: Buffer, sourceIp: string): LambdaEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return functionUrlEvent(request.method ?? "GET", request.url ?? "/", {
    headers,
    body: body.byteLength === 0 ? undefined : (textOf(body, headers["content-type"]) ?? body),
    sourceIp,
    domain: headers.host ?? "127.0.0.1",
  });
}

/** A JSON or text body that is valid UTF-8 goes as text (as AWS sends it); anything else base64. */
function textOf(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.byteLength === 0 || !/json|^text\//i.test(contentType ?? "")) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
  const body = bodyOf(result);
  // HEAD answers carry the resource's Content-Length and no body.
  if (!headers["content-length"] && !headers["Content-Length"]) headers["content-length"] = String(body.byteLength);
  response.writeHead(result.statusCode, headers);
  response.end(body);
}

/** What AWS answers for an invocation over the payload limit: its own body, not the registry's. */
function payloadTooLarge(response: ServerResponse): void {
  const body = JSON.stringify({ Message: `Request must be smaller than ${LAMBDA_PAYLOAD_LIMIT} bytes for the InvokeFunction operation` });
  response.writeHead(413, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
  response.end(body);
}

const server = createServer(async (request, response) => {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    // Keep reading (the client is still sending) but hold nothing once over the limit.
    if (size > LAMBDA_PAYLOAD_LIMIT) tooLarge = true;
    else chunks.push(chunk);
  }
  const log = (status: number, location?: string) =>
    console.error(JSON.stringify({ method: request.method, path: request.url, status, bytesIn: size, ...(location ? { location } : {}) }));
  const event = tooLarge ? undefined : eventOf(request, Buffer.concat(chunks), request.socket.remoteAddress ?? "127.0.0.1");
  if (!event || Buffer.byteLength(JSON.stringify(event)) > LAMBDA_PAYLOAD_LIMIT) {
    payloadTooLarge(response);
    return log(413);
  }
  try {
    const result = (await handler(event)) as APIGatewayProxyResult;
    writeResult(response, result);
    const location = Object.entries(result.headers ?? {}).find(([name]) => name.toLowerCase() === "location")?.[1];
    log(result.statusCode, location === undefined ? undefined : String(location));
  } catch (error) {
    // What Lambda answers when the function throws.
    console.error(error);
    response.writeHead(502, { "content-type": "application/json" });
    response.end(JSON.stringify({ Message: "Internal Server Error" }));
    log(502);
  }
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address() as { port: number };
  console.log(`function URL front listening on http://127.0.0.1:${address.port}`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.close(() => process.exit(0)));
