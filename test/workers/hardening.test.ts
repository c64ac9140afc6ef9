/**
 * Issue 13's limits through the real Worker entry point (src/runtime/workers.ts) inside workerd,
 * with the local R2 and Durable Objects of wrangler.toml: what the core refuses on Node it refuses
 * here too.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { WorkersEnv } from "../../src/runtime/workers-env.ts";

const ORIGIN = "http://registry.test";
type Worker = typeof import("../../src/runtime/workers.ts").default;

let openWorker: Worker | undefined;
/**
 * One module for the open Worker's tests: a fresh copy of the module resets the Durable Objects
 * that are alive (workerd sees a code change), so every test shares this one.
 */
async function openWorkerModule(): Promise<Worker> {
  if (openWorker) return openWorker;
  vi.resetModules();
  // The open Worker's warning about AUTH_CONFIG is worker-auth.test.ts's concern.
  vi.spyOn(console, "warn").mockImplementation(() => {});
  openWorker = (await import("../../src/runtime/workers.ts")).default;
  return openWorker;
}

function client(worker: Worker, workerEnv: WorkersEnv) {
  return async (path: string, init: RequestInit = {}): Promise<Response> => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`${ORIGIN}${path}`, init) as Request<unknown, IncomingRequestCfProperties>, workerEnv, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  return body.errors[0]!;
}

async function pushBlob(fetch: ReturnType<typeof client>, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = await sha256(bytes);
  const response = await fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
  expect(response.status).toBe(201);
  return digest;
}

describe("manifest limits in workerd (issue 13, defect 5)", () => {
  it("refuses 20,000 levels of nesting and 10,001 descriptors with 400 MANIFEST_INVALID naming the limit", async () => {
    const fetch = client(await openWorkerModule(), env);
    const config = new TextEncoder().encode("{}");
    const layer = new TextEncoder().encode("a layer");
    const configDigest = await pushBlob(fetch, "limits/app", config);
    const layerDigest = await pushBlob(fetch, "limits/app", layer);
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
    };
    const put = (body: string) =>
      fetch("/v2/limits/app/manifests/v1", { method: "PUT", headers: { "content-type": manifest.mediaType }, body });

    const deep = `${JSON.stringify(manifest).slice(0, -1)},"nested":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const deepAnswer = await put(deep);
    expect(deepAnswer.status).toBe(400);
    expect(await errorOf(deepAnswer)).toMatchObject({ code: "MANIFEST_INVALID", message: expect.stringContaining("64 levels") });

    const many = JSON.stringify({ ...manifest, layers: Array.from({ length: 10_000 }, () => manifest.layers[0]) });
    const manyAnswer = await put(many);
    expect(manyAnswer.status).toBe(400);
    expect(await errorOf(manyAnswer)).toMatchObject({ code: "MANIFEST_INVALID", message: expect.stringContaining("at most 10000") });

    expect((await fetch("/v2/limits/app/manifests/v1", { method: "HEAD" })).status).toBe(404);
    expect((await put(JSON.stringify(manifest))).status).toBe(201);
  });
});

describe("encoded slashes in workerd (issue 13, item 11)", () => {
  it("answers 400 NAME_INVALID to /v2/a%2Fb/..., which reached repository a/b", async () => {
    const fetch = client(await openWorkerModule(), env);
    const digest = await pushBlob(fetch, "slash/app", new TextEncoder().encode("slash"));
    expect((await fetch(`/v2/slash/app/blobs/${digest}`, { method: "HEAD" })).status).toBe(200);
    const answer = await fetch(`/v2/slash%2Fapp/blobs/${digest}`);
    expect(answer.status).toBe(400);
    expect((await errorOf(answer)).code).toBe("NAME_INVALID");
  });
});
