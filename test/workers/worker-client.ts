/**
 * Requests to the real Worker entry point (src/runtime/workers.ts) inside workerd, for the tests
 * that load the module themselves (a fresh copy per configuration: vi.resetModules).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { WorkersEnv } from "../../src/runtime/workers-env.ts";

export const ORIGIN = "http://registry.test";

export type Worker = typeof import("../../src/runtime/workers.ts").default;

/** A client of one Worker module with one env: what workerd does for each request. */
export function client(worker: Worker, workerEnv: WorkersEnv) {
  return async (path: string, init: RequestInit = {}): Promise<Response> => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`${ORIGIN}${path}`, init) as Request<unknown, IncomingRequestCfProperties>, workerEnv, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}
