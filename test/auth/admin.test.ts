/**
 * The /admin/ endpoints: only an identity a rule with `admin: true` names gets
 * `registry:admin:*`; everyone else gets the usual 401 challenge, and no rule
 * can give it to anonymous callers. Served by the real Node
 * maintenance (usage and garbage collection over files + SQLite).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { resolveConfig } from "../../src/config/schema.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { collectLocal } from "../../src/runtime/node-gc.ts";
import { basic, bearer, SERVICE, teamsConfig } from "./support.ts";

async function adminRegistry() {
  const root = await mkdtemp(join(tmpdir(), "registry-admin-"));
  const local = openLocalMetadata(root);
  const config = resolveConfig({ dataDir: root }, {});
  const auth = await buildAuth({
    ...(await teamsConfig()),
    rules: [...((await teamsConfig()).rules as unknown[]), { teams: ["ops"], admin: true }],
    signingKeys: [{ jwk: await generateSigningJwk() }],
  });
  const registry = new Registry({ blobs: new FilesystemBlobStore(join(root, "blobs")), metadata: local.store, hashing: hashWasm, partSize: MIN_PART_SIZE });
  const app = createApp(registry, {
    auth,
    maintenance: { usage: () => measureUsage(local.store), collect: ({ dryRun }) => collectLocal(config, local.store, { dryRun }) },
  });
  const token = async (credentials: [string, string] | null) => {
    const res = await app.request(`/token?service=${SERVICE}&scope=registry:admin:*`, credentials ? { headers: { authorization: basic(...credentials) } } : {});
    return ((await res.json()) as { token: string }).token;
  };
  return { app, token, close: async () => (local.close(), rm(root, { recursive: true, force: true })) };
}

describe("admin endpoints", () => {
  it("serve usage and a garbage collection run to an admin identity", async () => {
    const { app, token, close } = await adminRegistry();
    const olga = bearer(await token(["olga", "olga-secret"]));
    const usage = await app.request("/admin/usage", { headers: olga });
    expect(usage.status).toBe(200);
    expect(await usage.json()).toMatchObject({ totalBytes: 0, blobs: 0, namespaces: [], repositories: [] });
    const gc = await app.request("/admin/gc?dry-run=true", { method: "POST", headers: olga });
    expect(gc.status).toBe(200);
    expect(await gc.json()).toMatchObject({ collection: { dryRun: true, blobsDeleted: 0 }, retention: { tags: [] } });
    await close();
  });

  it("refuse everyone else with a 401 challenge for registry:admin:*, anonymous callers included", async () => {
    const { app, token, close } = await adminRegistry();
    for (const who of [["alice", "alice-secret"], null] as const) {
      const headers = bearer(await token(who ? [...who] : null));
      for (const [method, path] of [["GET", "/admin/usage"], ["POST", "/admin/gc"]] as const) {
        const res = await app.request(path, { method, headers });
        expect(res.status, `${who?.[0] ?? "anonymous"} ${method} ${path}`).toBe(401);
        expect(res.headers.get("www-authenticate")).toContain('scope="registry:admin:*"');
      }
    }
    const none = await app.request("/admin/usage");
    expect(none.status).toBe(401);
    await close();
  });

  it("cannot be granted to anonymous callers: a rule for everyone with admin is refused at start-up", async () => {
    const config = { ...(await teamsConfig()), rules: [{ everyone: true, admin: true }], signingKeys: [{ jwk: await generateSigningJwk() }] };
    await expect(buildAuth(config)).rejects.toThrow(/admin: true cannot apply to everyone/);
  });
});
