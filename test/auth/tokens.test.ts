import { generateKeyPairSync } from "node:crypto";
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningJwk, importSigningKey, importVerificationKey, KeyRing, publicPart } from "../../src/auth/keys.ts";
import { TokenIssuer } from "../../src/auth/tokens.ts";
import { TokenVerifier } from "../../src/auth/verifier.ts";

const settings = { issuer: "test-issuer", service: "test-registry", tokenTtlSeconds: 300, refreshTokenTtlSeconds: 3600, clockToleranceSeconds: 30 };
const access = [{ type: "repository", name: "blue/app", actions: ["pull", "push"] }];

async function ringOf(...jwks: JWK[]): Promise<KeyRing> {
  return new KeyRing(await Promise.all(jwks.map((jwk) => importSigningKey({ jwk }))), []);
}

/** A clock the test moves; jose and the issuer both read it. */
function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (seconds: number) => (now += seconds * 1000) };
}

describe("access tokens (jwt.md)", () => {
  it("carry alg ES256, typ JWT and kid in the header, and iss, sub, aud, exp, nbf, iat, jti, access", async () => {
    const jwk = await generateSigningJwk();
    const issued = await new TokenIssuer(await ringOf(jwk), settings).accessToken("alice", access);
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: "ES256", typ: "JWT", kid: jwk.kid });
    const claims = decodeJwt(issued.token);
    expect(claims).toMatchObject({ iss: "test-issuer", sub: "alice", aud: "test-registry", access });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(issued.expiresIn).toBe(300);
    expect(issued.issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("verify with the subject and access they carry; an anonymous token's subject is empty", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const issuer = new TokenIssuer(ring, settings);
    const verifier = new TokenVerifier(ring, settings);
    expect(await verifier.access((await issuer.accessToken("alice", access)).token)).toEqual({ subject: "alice", access });
    expect(await verifier.access((await issuer.accessToken("", [])).token)).toEqual({ subject: "", access: [] });
  });

  it("expire, with a small clock tolerance either side", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const time = clock();
    const { token } = await new TokenIssuer(ring, { ...settings, now: time.now }).accessToken("alice", access);
    const verifier = new TokenVerifier(ring, { ...settings, now: time.now });
    time.advance(-20);
    expect(await verifier.access(token), "20 s before nbf").not.toBeNull();
    time.advance(20 + 300 + 20);
    expect(await verifier.access(token), "20 s after exp").not.toBeNull();
    time.advance(20);
    expect(await verifier.access(token), "40 s after exp").toBeNull();
  });

  it("are refused for another audience or issuer", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const { token } = await new TokenIssuer(ring, settings).accessToken("alice", access);
    expect(await new TokenVerifier(ring, { ...settings, service: "other-registry" }).access(token)).toBeNull();
    expect(await new TokenVerifier(ring, { ...settings, issuer: "other-issuer" }).access(token)).toBeNull();
  });

  it("are refused when signed by a key with an unknown kid, or another key under a known kid", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const verifier = new TokenVerifier(ring, settings);
    const stranger = await generateSigningJwk();
    expect(await verifier.access((await new TokenIssuer(await ringOf(stranger), settings).accessToken("alice", access)).token)).toBeNull();
    const impostor = await ringOf({ ...stranger, kid: ring.signer.kid });
    expect(await verifier.access((await new TokenIssuer(impostor, settings).accessToken("alice", access)).token)).toBeNull();
  });

  it("are refused with a tampered payload, alg none, or HS256 keyed with the public key", async () => {
    const jwk = await generateSigningJwk();
    const ring = await ringOf(jwk);
    const verifier = new TokenVerifier(ring, settings);
    const { token } = await new TokenIssuer(ring, settings).accessToken("bob", []);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const escalated = base64url.encode(JSON.stringify({ ...decodeJwt(token), sub: "alice", access }));
    expect(await verifier.access(`${header}.${escalated}.${signature}`)).toBeNull();

    const none = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT", kid: jwk.kid }));
    expect(await verifier.access(`${none}.${payload}.`)).toBeNull();

    const publicKeyBytes = new TextEncoder().encode(JSON.stringify(publicPart(jwk)));
    const hs256 = await new SignJWT({ ...decodeJwt(token), access }).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: jwk.kid }).sign(publicKeyBytes);
    expect(await verifier.access(hs256)).toBeNull();
  });

  it("refuse a token whose access claim is not a list of entries", async () => {
    const jwk = await generateSigningJwk();
    const verifier = new TokenVerifier(await ringOf(jwk), settings);
    const now = Math.floor(Date.now() / 1000);
    for (const bad of ["repository:blue/app:pull", [{ type: "repository", name: "blue/app", actions: "pull" }], undefined]) {
      const token = await new SignJWT({ access: bad, iss: settings.issuer, aud: settings.service, sub: "alice", exp: now + 60, iat: now })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: jwk.kid! })
        .sign(jwk);
      expect(await verifier.access(token), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe("refresh tokens", () => {
  it("are a different kind of token: never accepted as an access token, and the reverse", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const issuer = new TokenIssuer(ring, settings);
    const verifier = new TokenVerifier(ring, settings);
    const refresh = await issuer.refreshToken("alice", "stamp");
    expect(decodeProtectedHeader(refresh).typ).toBe("rt+jwt");
    expect(await verifier.refresh(refresh)).toMatchObject({ subject: "alice", stamp: "stamp", id: expect.any(String), expiresAt: expect.any(Number) });
    expect(await verifier.access(refresh)).toBeNull();
    expect(await verifier.refresh((await issuer.accessToken("alice", access)).token)).toBeNull();
  });
});

describe("keys and rotation", () => {
  it("publish every trusted key in the JWKS, without private parts; one signs", async () => {
    const [old, current, retired] = await Promise.all([generateSigningJwk(), generateSigningJwk(), generateSigningJwk()]);
    const ring = new KeyRing(
      [await importSigningKey({ jwk: old }), await importSigningKey({ jwk: current })],
      [await importVerificationKey(publicPart(retired))],
      current.kid,
    );
    expect(ring.signer.kid).toBe(current.kid);
    const published = ring.jwks().keys;
    expect(published.map((key) => key.kid).sort()).toEqual([old.kid, current.kid, retired.kid].sort());
    for (const key of published) expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
  });

  it("keep accepting tokens of the previous signer while the new one signs", async () => {
    const [old, current] = await Promise.all([generateSigningJwk(), generateSigningJwk()]);
    const before = await ringOf(old);
    const token = (await new TokenIssuer(before, settings).accessToken("alice", access)).token;
    const after = new KeyRing([await importSigningKey({ jwk: current })], [await importVerificationKey(publicPart(old))]);
    const verifier = new TokenVerifier(after, settings);
    expect(await verifier.access(token)).not.toBeNull();
    expect(decodeProtectedHeader((await new TokenIssuer(after, settings).accessToken("alice", access)).token).kid).toBe(current.kid);
  });

  it("import PKCS#8 PEM keys (RSA and Ed25519), naming them by thumbprint when no kid is given", async () => {
    for (const [type, alg] of [["rsa", "RS256"], ["ed25519", "EdDSA"]] as const) {
      const { privateKey } = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
      const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      const ring = new KeyRing([await importSigningKey({ pem, alg })], []);
      expect(ring.signer.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const { token } = await new TokenIssuer(ring, settings).accessToken("alice", access);
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      expect(await new TokenVerifier(ring, settings).access(token)).not.toBeNull();
    }
  });

  it("refuse two keys with one kid, and a signingKeyId that names no signing key", async () => {
    const jwk = await generateSigningJwk();
    const key = await importSigningKey({ jwk });
    expect(() => new KeyRing([key, key], [])).toThrow(/share the kid/);
    expect(() => new KeyRing([key], [], "nope")).toThrow(/names no signing key/);
  });
});

describe("upload grants (the split deployment, docs/aws.md)", () => {
  it("carry typ upload+jwt, the subject, repository and session, and verify as such", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const grant = await new TokenIssuer(ring, settings).uploadGrant("alice", "blue/app", "session-1", 600);
    expect(decodeProtectedHeader(grant).typ).toBe("upload+jwt");
    expect(await new TokenVerifier(ring, settings).uploadGrant(grant)).toEqual({ subject: "alice", repository: "blue/app", upload: "session-1" });
  });

  it("are never taken as access tokens, nor access tokens as grants", async () => {
    const ring = await ringOf(await generateSigningJwk());
    const issuer = new TokenIssuer(ring, settings);
    const verifier = new TokenVerifier(ring, settings);
    expect(await verifier.access(await issuer.uploadGrant("alice", "blue/app", "session-1", 600))).toBeNull();
    expect(await verifier.uploadGrant((await issuer.accessToken("alice", access)).token)).toBeNull();
  });

  it("expire, and are refused when signed with a key the registry does not trust", async () => {
    const time = clock();
    const ring = await ringOf(await generateSigningJwk());
    const grant = await new TokenIssuer(ring, { ...settings, now: time.now }).uploadGrant("alice", "blue/app", "session-1", 600);
    const verifier = new TokenVerifier(ring, { ...settings, now: time.now });
    expect(await verifier.uploadGrant(grant)).not.toBeNull();
    time.advance(600 + settings.clockToleranceSeconds + 1);
    expect(await verifier.uploadGrant(grant)).toBeNull();
    const foreign = await new TokenIssuer(await ringOf(await generateSigningJwk()), settings).uploadGrant("alice", "blue/app", "session-1", 600);
    expect(await new TokenVerifier(ring, settings).uploadGrant(foreign)).toBeNull();
  });
});
