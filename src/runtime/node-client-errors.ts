import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type ErrorCode, RegistryError } from "../core/errors.ts";

/**
 * Requests Node's HTTP parser refuses before the app sees them (a raw space in the request line,
 * more than 16 KiB of headers, headers that never finish) and `Expect` values other than
 * 100-continue: Node answers these itself with an empty body; here they get the OCI error body
 * every other answer has, so a client (or its operator) reads what was wrong.
 */
export function answerClientErrorsAsOci(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || ("_httpMessage" in socket && socket._httpMessage)) {
      socket.destroy();
      return;
    }
    const [status, code, message] = describe(error.code);
    const body = JSON.stringify(new RegistryError(code, message, { status }).toBody());
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nDocker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify(
      new RegistryError("UNSUPPORTED", `Expect: ${String(request.headers.expect).slice(0, 100)} is not supported; send Expect: 100-continue or no Expect header`, { status: 417 }).toBody(),
    );
    response.writeHead(417, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "X-Content-Type-Options": "nosniff", "Docker-Distribution-API-Version": "registry/2.0", Connection: "close" });
    response.end(body);
  });
}

const REASONS: Record<number, string> = { 400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large" };

function describe(code: string | undefined): [number, ErrorCode, string] {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, "UNSUPPORTED", "the request's headers are larger than this server accepts (16 KiB in all); send fewer or shorter headers"];
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "ERR_HTTP_HEADERS_TIMEOUT":
      return [408, "UNSUPPORTED", "the request's headers did not arrive in time; send the whole request head at once"];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return [413, "SIZE_INVALID", "the chunked body's chunk extensions are too large"];
    default:
      return [400, "UNSUPPORTED", `the request is not valid HTTP/1.1 (${code ?? "malformed"}); check the request line (method, path without raw spaces, version) and the headers`];
  }
}
