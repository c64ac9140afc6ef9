/**
 * Signing and verification keys. Every trusted key is published in the JWKS
 * and found by `kid`; exactly one signs new tokens. Rotating a key: add the
 * new one, make it the signer, keep the old one (or its public JWK in
 * `verificationKeys`) until the last token it signed has expired, then drop it.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, type JWK } from "jose";
import type { SigningKeyConfig } from "./config.ts";

export interface TrustedKey {
  kid: string;
  alg: string;
  key: CryptoKey;
  /** As published in the JWKS. */
  publicJwk: JWK;
}

export interface SigningKey extends TrustedKey {
  privateKey: CryptoKey;
}

const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "oth", "k", "key_ops", "ext"]);

export function publicPart(jwk: JWK): JWK {
  return Object.fromEntries(Object.entries(jwk).filter(([member]) => !PRIVATE_MEMBERS.has(member))) as JWK;
}

/** The algorithm a key type implies when none is named. */
export function defaultAlgorithm(jwk: JWK): string | undefined {
  if (jwk.kty === "EC") return ({ "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" } as Record<string, string>)[jwk.crv ?? ""];
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  if (jwk.kty === "RSA") return "RS256";
  return undefined;
}

export async function importSigningKey(config: SigningKeyConfig): Promise<SigningKey> {
  const privateJwk = config.jwk ?? (await exportJWK(await importPKCS8(config.pem ?? "", config.alg ?? "", { extractable: true })));
  const alg = config.alg ?? privateJwk.alg ?? defaultAlgorithm(privateJwk);
  if (!alg) throw new Error("name its alg: the key type implies none");
  const publicJwk = publicPart(privateJwk);
  const kid = config.kid ?? privateJwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  const privateKey = (await importJWK({ ...privateJwk, alg }, alg)) as CryptoKey;
  const key = (await importJWK({ ...publicJwk, alg }, alg)) as CryptoKey;
  return { kid, alg, privateKey, key, publicJwk: { ...publicJwk, kid, alg, use: "sig" } };
}

export async function importVerificationKey(jwk: JWK): Promise<TrustedKey> {
  const alg = jwk.alg ?? defaultAlgorithm(jwk);
  if (!alg || !jwk.kid) throw new Error("a verification key needs kid and an alg (or a key type that implies one)");
  const publicJwk = publicPart(jwk);
  const key = (await importJWK({ ...publicJwk, alg }, alg)) as CryptoKey;
  return { kid: jwk.kid, alg, key, publicJwk: { ...publicJwk, kid: jwk.kid, alg, use: "sig" } };
}

/** A new private JWK with `kid` (its thumbprint) and `alg`: what `npm run auth:keygen` prints. */
export async function generateSigningJwk(alg = "ES256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(publicPart(jwk)), alg };
}

export class KeyRing {
  readonly signer: SigningKey;
  private readonly trusted = new Map<string, TrustedKey>();

  /** `signerKid`: which signing key signs; default the first. */
  constructor(signing: readonly SigningKey[], verification: readonly TrustedKey[], signerKid?: string) {
    for (const key of [...signing, ...verification]) {
      if (this.trusted.has(key.kid)) throw new Error(`two keys share the kid "${key.kid}"`);
      this.trusted.set(key.kid, key);
    }
    const signer = signerKid === undefined ? signing[0] : signing.find((key) => key.kid === signerKid);
    if (!signer) throw new Error(signerKid === undefined ? "no signing key" : `signingKeyId "${signerKid}" names no signing key`);
    this.signer = signer;
  }

  byKid(kid: string | undefined): TrustedKey | undefined {
    return kid === undefined ? undefined : this.trusted.get(kid);
  }

  algorithms(): string[] {
    return [...new Set([...this.trusted.values()].map((key) => key.alg))];
  }

  /** The JWKS document: every trusted public key. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.trusted.values()].map((key) => key.publicJwk) };
  }
}
