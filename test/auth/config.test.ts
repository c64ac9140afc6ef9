import { describe, expect, it } from "vitest";
import { validateAuthConfig } from "../../src/auth/config.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { AuthConfigError, buildAuth, createAuth } from "../../src/auth/service.ts";
import { ConfigError, resolveConfig } from "../../src/config/schema.ts";

describe("auth configuration", () => {
  it("fills in defaults around users and rules", async () => {
    const password = await hashPassword("pw");
    const { config, problems } = validateAuthConfig({
      users: { alice: { password, teams: ["blue"] } },
      rules: [{ teams: ["blue"], repositories: ["blue/*"], actions: ["pull"] }],
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      service: "oci-registry",
      issuer: "oci-registry",
      tokenTtlSeconds: 300,
      clockToleranceSeconds: 30,
      signingKeys: [],
      public: [],
      users: { alice: { password, teams: ["blue"] } },
    });
  });

  it("reports every mistake at once, naming settings but never echoing their values", () => {
    const secret = "pbkdf2-sha256$1$c2VjcmV0$c2VjcmV0";
    const { config, problems } = validateAuthConfig({
      servce: "x",
      tokenTtlSeconds: 10,
      users: { alice: { password: secret }, "bad:name": { password: secret } },
      robots: { ci: { tokenHash: "plain-token-oops" } },
      signingKeys: [{ jwk: { kty: "EC", crv: "P-256", x: "a", y: "b" } }],
      public: ["Public/*"],
      rules: [{ repositories: ["blue/*"], actions: ["pull"] }, { teams: ["blue"], repositories: ["blue/*"], actions: ["write"] }, { teams: ["blue"] }],
      oidc: [{ name: "github", issuer: "http://token.example.com", audience: "r", identities: [{ name: "ci", claims: {} }] }],
    });
    expect(config).toBeUndefined();
    const text = problems.join("\n");
    for (const expected of [
      'unknown setting "servce"',
      "tokenTtlSeconds must be an integer from 60",
      "users.alice.password must be a pbkdf2-sha256 hash",
      "users.bad:name.password",
      "robots.ci.tokenHash must be sha256:",
      "signingKeys[0].jwk must be a private JWK",
      'public[0] must be "*", "<name>/*" or a repository name',
      "rules[0] applies to nobody",
      "rules[1].actions[0] must be one of pull, push, delete, *",
      "rules[2] grants nothing",
      "oidc[0].issuer must be an https URL",
      "oidc[0].identities[0].claims must name at least one claim",
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain(secret);
    expect(text).not.toContain("plain-token-oops");
  });

  it("refuses names that would be ambiguous between users, robots and OIDC", async () => {
    const password = await hashPassword("pw");
    const { problems } = validateAuthConfig({
      users: { ci: { password }, oidc: { password } },
      robots: { ci: { tokenHash: `sha256:${"0".repeat(64)}` } },
    });
    expect(problems.join("\n")).toContain('robot ci is named "ci" like user ci');
    expect(problems.join("\n")).toContain('user oidc is named "oidc" like the reserved OIDC username');
  });

  it("needs a signing key on runtimes that cannot make a throwaway one", async () => {
    await expect(buildAuth({})).rejects.toThrow(AuthConfigError);
    await expect(buildAuth({})).rejects.toThrow(/signingKeys is empty.*auth:keygen/);
    const auth = await buildAuth({}, { ephemeralKeyIfNone: true, warn: () => {} });
    expect(auth.jwks().keys).toHaveLength(1);
  });

  it("reports a signingKeyId naming none of the keys with the other mistakes, when the keys name their kids", async () => {
    const jwk = await generateSigningJwk();
    const { problems } = validateAuthConfig({ servce: "x", signingKeys: [{ jwk }], signingKeyId: "no-such-key" });
    expect(problems).toContain(`signingKeyId "no-such-key" names no signing key (their kids: "${jwk.kid}")`);
    expect(problems.some((problem) => problem.includes("servce"))).toBe(true);
    expect(validateAuthConfig({ signingKeys: [{ jwk }], signingKeyId: jwk.kid }).problems).toEqual([]);
    // A kid that is only the thumbprint of a key without one is checked when the keys are imported.
    const { kid: _kid, ...withoutKid } = jwk;
    expect(validateAuthConfig({ signingKeys: [{ jwk: withoutKid }], signingKeyId: "x" }).problems).toEqual([]);
    await expect(buildAuth({ signingKeys: [{ jwk: withoutKid }], signingKeyId: "x" })).rejects.toThrow(/signingKeyId "x" names no signing key/);
  });

  it("says which signing key could not be imported, without its material", async () => {
    const jwk = await generateSigningJwk();
    const broken = { ...jwk, d: "AAAA" };
    const error = await createAuth(validateAuthConfig({ signingKeys: [{ jwk }, { jwk: broken }] }).config!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthConfigError);
    expect((error as Error).message).toContain("signingKeys[1] could not be imported");
    expect((error as Error).message).not.toContain(jwk.d);
  });
});

describe("auth in the registry configuration", () => {
  it("is absent unless configured: the registry stays open", () => {
    expect(resolveConfig({}, {}).auth).toBeUndefined();
  });

  it("comes from the config file's auth section, or from AUTH_CONFIG (JSON text), which wins", () => {
    expect(resolveConfig({ auth: { service: "from-file" } }, {}).auth?.service).toBe("from-file");
    expect(resolveConfig({ auth: { service: "from-file" } }, { AUTH_CONFIG: '{"service":"from-env"}' }).auth?.service).toBe("from-env");
  });

  it("reports auth mistakes with the other settings', and never prints AUTH_CONFIG", () => {
    const run = (file: Record<string, unknown>, env: Record<string, string>) => {
      try {
        resolveConfig(file, env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error("no ConfigError");
    };
    const message = run({ port: "x", auth: { tokenTtlSeconds: 1 } }, {});
    expect(message).toContain("port (config file)");
    expect(message).toContain("auth: tokenTtlSeconds must be an integer");
    const secret = '{"users": {"alice": {"password": "hunter2"';
    const broken = run({}, { AUTH_CONFIG: secret });
    expect(broken).toContain("AUTH_CONFIG) is not valid JSON");
    expect(broken).not.toContain("hunter2");
  });
});

describe("names that are not names", () => {
  it("refuses a user called __proto__ instead of silently dropping it", async () => {
    const { problems } = validateAuthConfig(JSON.parse(`{"users": {"__proto__": {"password": ${JSON.stringify(await hashPassword("pw"))}}}}`));
    expect(problems.join("\n")).toContain('"__proto__" is not a valid name');
  });
});
