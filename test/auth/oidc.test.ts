/**
 * CI identities from a trusted OIDC issuer, served here by a local issuer on
 * 127.0.0.1 (discovery document and JWKS), as GitHub Actions or GitLab would.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../spec/helpers.ts";
import { type AuthedRegistry, authedRegistry, basic, bearer, SERVICE, teamsConfig } from "./support.ts";

interface Issuer {
  url: string;
  sign(claims: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
  requests: string[];
}

async function localIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "ci-key-1", alg: "RS256", use: "sig" };
  const requests: string[] = [];
  let url = "";
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
    else if (req.url === "/keys") res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    sign: (claims) => signIdToken(privateKey, "ci-key-1", { iss: url, ...claims }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function signIdToken(key: CryptoKey, kid: string, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: "registry-ci", iat: now, nbf: now, exp: now + 300, sub: "repo:acme/blue-app:ref:refs/heads/main", ...claims })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
    .sign(key);
}

const mainBranch = { repository: "acme/blue-app", ref: "refs/heads/main" };

describe("OIDC identities: a CI ID token with matching claims can push, nothing else can", () => {
  let issuer: Issuer;
  let other: Issuer;
  let registry: AuthedRegistry;

  beforeAll(async () => {
    [issuer, other] = await Promise.all([localIssuer(), localIssuer()]);
    registry = await authedRegistry(
      await teamsConfig({
        oidc: [
          {
            name: "ci",
            issuer: issuer.url,
            audience: "registry-ci",
            identities: [{ name: "ci-blue-app", teams: ["blue"], claims: { repository: "acme/blue-app", ref: ["refs/heads/*", "refs/tags/v*"] } }],
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await issuer.close();
    await other.close();
  });

  async function tokenResponse(username: string, idToken: string, extra = ""): Promise<Response> {
    return registry.request(`/token?service=${SERVICE}&scope=repository:blue/app:pull,push${extra}`, { headers: { authorization: basic(username, idToken) } });
  }

  it("finds the issuer's keys through its discovery document, then pushes a blob with the token it got", async () => {
    const res = await tokenResponse("ci", await issuer.sign(mainBranch));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; scope: string };
    expect(body.scope).toBe("repository:blue/app:pull,push");
    expect(issuer.requests).toContain("/.well-known/openid-configuration");
    expect(issuer.requests).toContain("/keys");

    const bytes = new TextEncoder().encode("built by CI");
    const push = await registry.request(`/v2/blue/app/blobs/uploads/?digest=${sha256(bytes)}`, { method: "POST", headers: bearer(body.token), body: bytes });
    expect(push.status).toBe(201);
  });

  it("accepts the ID token with the username `oidc` (the issuer is chosen by `iss`) and through POST /token", async () => {
    const idToken = await issuer.sign({ ...mainBranch, ref: "refs/tags/v1.2.0" });
    expect((await tokenResponse("oidc", idToken)).status).toBe(200);
    const form = new URLSearchParams({ grant_type: "password", username: "oidc", password: idToken, service: SERVICE, client_id: "ci", scope: "repository:blue/app:push" });
    const res = await registry.request("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe("repository:blue/app:push");
  });

  it("gives CI no refresh token: it logs in with a fresh ID token instead", async () => {
    const res = await tokenResponse("ci", await issuer.sign(mainBranch), "&offline_token=true");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { refresh_token?: string }).refresh_token).toBeUndefined();
  });

  it("refuses ID tokens whose claims match no condition set", async () => {
    for (const claims of [{ ...mainBranch, repository: "acme/other" }, { ...mainBranch, ref: "refs/pull/7/merge" }, { repository: "acme/blue-app" }, { ...mainBranch, ref: 42 }]) {
      expect((await tokenResponse("ci", await issuer.sign(claims))).status, JSON.stringify(claims)).toBe(401);
    }
  });

  it("refuses ID tokens from another issuer, for another audience, expired, or signed by a key not in the JWKS", async () => {
    const now = Math.floor(Date.now() / 1000);
    const foreign = await other.sign(mainBranch);
    expect((await tokenResponse("ci", foreign)).status, "another issuer under this issuer's name").toBe(401);
    expect((await tokenResponse("oidc", foreign)).status, "another issuer").toBe(401);
    expect((await tokenResponse("ci", await issuer.sign({ ...mainBranch, aud: "someone-else" }))).status, "audience").toBe(401);
    expect((await tokenResponse("ci", await issuer.sign({ ...mainBranch, iat: now - 900, nbf: now - 900, exp: now - 600 }))).status, "expired").toBe(401);
    const { privateKey } = await generateKeyPair("RS256");
    expect((await tokenResponse("ci", await signIdToken(privateKey, "ci-key-1", { iss: issuer.url, ...mainBranch }))).status, "forged").toBe(401);
    expect((await tokenResponse("ci", "not-a-jwt")).status, "garbage").toBe(401);
  });

  it("uses jwksUri when it is configured", async () => {
    const direct = await localIssuer();
    try {
      const configured = await authedRegistry(
        await teamsConfig({
          oidc: [{ name: "ci", issuer: direct.url, audience: "registry-ci", jwksUri: `${direct.url}/keys`, identities: [{ name: "ci-app", teams: ["blue"], claims: mainBranch }] }],
        }),
      );
      const res = await configured.request(`/token?service=${SERVICE}&scope=repository:blue/app:push`, { headers: { authorization: basic("ci", await direct.sign(mainBranch)) } });
      expect(res.status).toBe(200);
      expect(direct.requests).toEqual(["/keys"]);
    } finally {
      await direct.close();
    }
  });
});
