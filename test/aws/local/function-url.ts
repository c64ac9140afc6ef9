/**
 * Lambda Function URL invocations as the Lambda service makes them
 * (payload format 2.0): lower-case headers, the raw path and query string,
 * and a body that is base64-encoded unless it is text.
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
 * Used by the Lambda tests (test/aws/lambda.test.ts, infra.test.ts), which invoke the
 * handler in process, and by the local Function URL front (function-url-front.ts), which
 * turns real HTTP requests into these events.
 */
import type { APIGatewayProxyResult, LambdaEvent } from "hono/aws-lambda";

const DOMAIN = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws";

export interface InvokeOptions {
  headers?: Record<string, string>;
  /** Bytes go base64-encoded (as for a binary content type); a string goes as text. */
  body?: Uint8Array | string;
  /** The connecting client's address (requestContext.http.sourceIp); default 127.0.0.1. */
  sourceIp?: string;
  /** `name=value` pairs: payload 2.0 carries the Cookie header's pairs in `cookies`, not in `headers`. */
  cookies?: string[];
  /** The host the client called (requestContext.domainName, and `host` unless the headers give one). */
  domain?: string;
}

export function functionUrlEvent(method: string, target: string, options: InvokeOptions = {}): LambdaEvent {
  const domain = options.domain ?? DOMAIN;
  // Only the path and query are read: a fixed base, so a Host header that is no host name cannot throw.
  const url = new URL(target, "https://function-url.invalid");
  const headers: Record<string, string> = { host: domain, "x-forwarded-proto": "https", "user-agent": "registry-tests" };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  const { body } = options;
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: "anonymous",
      apiId: domain.split(".")[0]!,
      authentication: null,
      authorizer: {},
      domainName: domain,
      domainPrefix: domain.split(".")[0]!,
      http: { method, path: url.pathname, protocol: "HTTP/1.1", sourceIp: options.sourceIp ?? "127.0.0.1", userAgent: headers["user-agent"]! },
      requestId: crypto.randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(options.cookies ? { cookies: options.cookies } : {}),
    body: body === undefined ? null : typeof body === "string" ? body : Buffer.from(body).toString("base64"),
    isBase64Encoded: body !== undefined && typeof body !== "string",
  };
}

/** The result's headers, lower-cased, whichever form the adapter used. */
export function headersOf(result: APIGatewayProxyResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) out[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) out[name.toLowerCase()] = values.join(", ");
  return out;
}

/** The response body's bytes, decoding base64 when the adapter encoded it. */
export function bodyOf(result: APIGatewayProxyResult): Uint8Array {
  return result.isBase64Encoded ? new Uint8Array(Buffer.from(result.body, "base64")) : new TextEncoder().encode(result.body);
}
