import type { Context } from "hono";
import type { IncomingMessage } from "node:http";
import type { RegistryConfig } from "../config/schema.ts";
import type { RequestLimits } from "../http/request-limits.ts";

/**
 * The request limits of one Node process. Each process of a cluster counts its own uploads, so
 * with PROCESSES=n a client address may hold up to n × maxUploadsPerClient (the kernel spreads
 * connections over the processes).
 */
export function nodeRequestLimits(config: RegistryConfig): RequestLimits {
  return {
    bodyTimeoutMs: config.bodyTimeoutSeconds * 1000,
    maxUploads: config.maxUploads,
    maxUploadsPerClient: config.maxUploadsPerClient,
    clientAddress: nodeClientAddress,
  };
}

/** The socket's remote address, from @hono/node-server's bindings (the IncomingMessage as `incoming`). */
export const nodeClientAddress = (c: Context): string | undefined => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress;
