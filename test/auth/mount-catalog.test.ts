/**
 * Requests that reach past the repository they name: a cross-repository
 * mount needs pull on `from` (else it is an ordinary upload), a mount without
 * `from` never crosses into a repository the caller cannot read, and the
 * catalog lists only what the caller may pull, with pagination intact.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyRule } from "../../src/auth/policy.ts";
import { nextLink, sha256 } from "../spec/helpers.ts";
import { type AuthedRegistry, authedRegistry, bearer, PASSWORDS, teamsConfig } from "./support.ts";

const layer = new TextEncoder().encode("a layer green pushed");
const digest = sha256(layer);

/** Pushes `layer` into each repository with a token minted for it. */
async function pushLayer(registry: AuthedRegistry, ...repositories: string[]): Promise<void> {
  for (const name of repositories) {
    const token = await registry.forge({ sub: "seed", access: [{ type: "repository", name, actions: ["push"] }] });
    const res = await registry.request(`/v2/${name}/blobs/uploads/?digest=${digest}`, { method: "POST", headers: bearer(token), body: layer });
    expect(res.status, name).toBe(201);
  }
}

/** teamsConfig, plus: ops may push to ops/* (olga pulls everything already). */
async function withOpsPush(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const config = await teamsConfig(extra);
  config.rules = [...(config.rules as PolicyRule[]), { teams: ["ops"], repositories: ["ops/*"], actions: ["push"] }];
  return config;
}

describe("cross-repository mount with auth (spec end-11, checklist B.6)", () => {
  let registry: AuthedRegistry;
  let alice: Record<string, string>;
  beforeAll(async () => {
    registry = await authedRegistry(await withOpsPush());
    await pushLayer(registry, "green/x", "blue/src");
    alice = bearer(await registry.token(["alice", PASSWORDS.alice], ...["blue/app", "blue/other", "blue/auto"].map((name) => `repository:${name}:pull,push`)));
  });

  const mount = (headers: Record<string, string>, target: string, from?: string) =>
    registry.request(`/v2/${target}/blobs/uploads/?mount=${digest}${from ? `&from=${from}` : ""}`, { method: "POST", headers });
  const inRepo = async (headers: Record<string, string>, name: string) => (await registry.request(`/v2/${name}/blobs/${digest}`, { method: "HEAD", headers })).status;

  it("mounts from a repository the caller may pull, even when the token names only the target", async () => {
    expect((await mount(alice, "blue/app", "blue/src")).status).toBe(201);
    expect(await inRepo(alice, "blue/app")).toBe(200);
  });

  it("opens an ordinary upload instead when the caller may not pull `from`, and links nothing", async () => {
    const res = await mount(alice, "blue/other", "green/x");
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toMatch(/^\/v2\/blue\/other\/blobs\/uploads\//);
    const owner = bearer(await registry.forge({ access: [{ type: "repository", name: "blue/other", actions: ["pull"] }] }));
    expect(await inRepo(owner, "blue/other")).toBe(404);
  });

  it("answers alike whether the blob is in the unreadable `from` or not", async () => {
    const present = await mount(alice, "blue/other", "green/x");
    const absent = await mount(alice, "blue/other", "green/nothing-here");
    const shape = (res: Response) => ({ status: res.status, range: res.headers.get("range"), length: res.headers.get("content-length") });
    expect(shape(absent)).toEqual(shape(present));
  });

  it("never mounts without `from` for a caller who cannot read every repository", async () => {
    const res = await mount(alice, "blue/auto", undefined);
    expect(res.status).toBe(202);
  });

  it("mounts without `from` for a caller who may pull every repository", async () => {
    const olga = bearer(await registry.token(["olga", PASSWORDS.olga], "repository:ops/tools:pull,push"));
    expect((await mount(olga, "ops/tools", undefined)).status).toBe(201);
    expect(await inRepo(olga, "ops/tools")).toBe(200);
  });
});

describe("catalog with auth (registry:catalog:*)", () => {
  let registry: AuthedRegistry;
  const blue = ["blue/app", "blue/src"];
  const green = Array.from({ length: 230 }, (_, i) => `green/r${String(i).padStart(3, "0")}`);
  beforeAll(async () => {
    registry = await authedRegistry(await withOpsPush({ public: ["public/*"] }));
    await pushLayer(registry, ...blue, ...green, "public/base");
  });

  const catalog = async (headers: Record<string, string>, query = "") => {
    const res = await registry.request(`/v2/_catalog${query}`, { headers });
    expect(res.status).toBe(200);
    return { names: ((await res.json()) as { repositories: string[] }).repositories, next: nextLink(res) };
  };

  it("lists only the repositories the caller may pull", async () => {
    const alice = bearer(await registry.token(["alice", PASSWORDS.alice], "registry:catalog:*"));
    expect((await catalog(alice)).names).toEqual([...blue, "public/base"]);
    const bob = bearer(await registry.token(["bob", PASSWORDS.bob], "registry:catalog:*"));
    expect((await catalog(bob)).names).toEqual([...green, "public/base"]);
    const olga = bearer(await registry.token(["olga", PASSWORDS.olga], "registry:catalog:*"));
    expect((await catalog(olga)).names).toHaveLength(blue.length + green.length + 1);
  });

  it("pages through the filtered list with n, last and Link, naming only visible repositories", async () => {
    const alice = bearer(await registry.token(["alice", PASSWORDS.alice], "registry:catalog:*"));
    const pages: string[][] = [];
    let query: string | null = "?n=1";
    while (query !== null) {
      const page = await catalog(alice, query.startsWith("?") ? query : `?${query.split("?")[1]}`);
      pages.push(page.names);
      if (page.next) expect(page.next).not.toMatch(/green/);
      query = page.next;
    }
    expect(pages).toEqual([["blue/app"], ["blue/src"], ["public/base"]]);
  });

  it("is refused without a token, and with a token that lacks registry:catalog:*", async () => {
    expect((await registry.request("/v2/_catalog")).status).toBe(401);
    const scoped = bearer(await registry.token(["alice", PASSWORDS.alice], "repository:blue/app:pull"));
    const res = await registry.request("/v2/_catalog", { headers: scoped });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('scope="registry:catalog:*",error="insufficient_scope"');
  });

  it("shows anonymous callers the public repositories when everyone may list it", async () => {
    const config = await teamsConfig();
    config.rules = [...(config.rules as PolicyRule[]), { everyone: true, catalog: true }];
    const open = await authedRegistry(config);
    await pushLayer(open, "blue/app", "public/base");
    const res = await open.request("/v2/_catalog");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repositories: string[] }).repositories).toEqual(["public/base"]);
  });
});
