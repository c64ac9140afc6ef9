/** The Workers deployment's vars (wrangler.toml [vars]), validated as the Node config is: every mistake at once. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/schema.ts";
import { DEFAULT_MAX_REQUEST_BYTES, resolveWorkersConfig } from "../../src/runtime/workers-config.ts";

describe("Workers configuration", () => {
  it("defaults to the Free/Pro request body limit (100 MB) and the shared defaults", () => {
    expect(resolveWorkersConfig({})).toEqual({
      maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
      partSize: 8 * 1024 * 1024,
      maxManifestBytes: 4 * 1024 * 1024,
      automaticMount: true,
      uploadTtlSeconds: 86400,
      immutableTags: [],
      gcGraceSeconds: 3600,
      retention: [],
      quotas: {},
    });
    expect(DEFAULT_MAX_REQUEST_BYTES).toBe(100_000_000);
  });

  it("reads every var", () => {
    const config = resolveWorkersConfig({
      MAX_REQUEST_BYTES: "500000000",
      PART_SIZE: String(16 * 1024 * 1024),
      MAX_MANIFEST_BYTES: String(8 * 1024 * 1024),
      AUTOMATIC_MOUNT: "false",
      UPLOAD_TTL_SECONDS: "3600",
      IMMUTABLE_TAGS: '[{"repositories": ["team/*"], "tags": ["v*"]}]',
      GC_GRACE_SECONDS: "600",
      QUOTAS: '{"team": 1073741824}',
    });
    expect(config).toEqual({
      maxRequestBytes: 500_000_000,
      partSize: 16 * 1024 * 1024,
      maxManifestBytes: 8 * 1024 * 1024,
      automaticMount: false,
      uploadTtlSeconds: 3600,
      immutableTags: [{ repositories: ["team/*"], tags: ["v*"] }],
      gcGraceSeconds: 600,
      retention: [],
      quotas: { team: 1073741824 },
    });
  });

  it("reports a malformed QUOTAS", () => {
    expect(() => resolveWorkersConfig({ QUOTAS: '{"team": -1}' })).toThrow(/quotas \(env QUOTAS\) must map namespaces to byte counts/);
  });

  it("reads the MIRRORS secret, and reports its mistakes without its credentials", () => {
    const mirrors = '[{"namespace": "dockerhub", "url": "https://registry-1.docker.io", "username": "me", "password": "dckr_pat_secret"}]';
    expect(resolveWorkersConfig({}, { MIRRORS: mirrors }).mirrors?.[0]).toMatchObject({ namespace: "dockerhub", username: "me", password: "dckr_pat_secret" });
    expect(() => resolveWorkersConfig({}, { MIRRORS: mirrors.replace("https://", "ftp://") })).toThrow(/^(?![\s\S]*dckr_pat_secret)[\s\S]*url must be an http\(s\) origin/);
  });

  it("reads PUBLIC_URL, the base of the token realm", () => {
    expect(resolveWorkersConfig({ PUBLIC_URL: "https://registry.example.com" }).publicUrl).toBe("https://registry.example.com");
    expect(() => resolveWorkersConfig({ PUBLIC_URL: "registry.example.com" })).toThrow(/PUBLIC_URL/);
  });

  it("reports every mistake at once, including a part size too large for a Worker's memory", () => {
    let error: unknown;
    try {
      resolveWorkersConfig({ MAX_REQUEST_BYTES: "lots", PART_SIZE: String(64 * 1024 * 1024), AUTOMATIC_MOUNT: "maybe" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/MAX_REQUEST_BYTES must be an integer/);
    expect(message).toMatch(/PART_SIZE\) must be at most 33554432 on Workers/);
    expect(message).toMatch(/automaticMount \(env AUTOMATIC_MOUNT\) must be true or false/);
  });

  it("reads the AUTH_CONFIG secret through the shared schema, requiring signingKeys (no throwaway key per isolate)", async () => {
    const { generateSigningJwk } = await import("../../src/auth/keys.ts");
    const section = { users: {}, rules: [], public: ["public/*"] };
    const config = resolveWorkersConfig({}, { AUTH_CONFIG: JSON.stringify({ ...section, signingKeys: [{ jwk: await generateSigningJwk() }] }) });
    expect(config.auth?.public).toEqual(["public/*"]);
    expect(config.auth?.signingKeys).toHaveLength(1);
    expect(resolveWorkersConfig({}).auth).toBeUndefined();

    expect(() => resolveWorkersConfig({}, { AUTH_CONFIG: JSON.stringify(section) })).toThrow(/auth\.signingKeys \(secret AUTH_CONFIG\) is empty/);
  });

  it("names a malformed AUTH_CONFIG without echoing it, alongside the other mistakes", () => {
    let error: unknown;
    try {
      resolveWorkersConfig({ AUTOMATIC_MOUNT: "maybe" }, { AUTH_CONFIG: '{"signingKeys":[{"jwk":{"d":"PRIVATE-KEY-TEXT"' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/auth \(env AUTH_CONFIG\) is not valid JSON/);
    expect(message).toMatch(/AUTOMATIC_MOUNT/);
    expect(message).not.toContain("PRIVATE-KEY-TEXT");
  });
});
