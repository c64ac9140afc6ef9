/**
 * Issues the registry's JWTs (jwt.md): access tokens carrying the granted
 * `access`, and refresh tokens for `offline_token=true` / `access_type=offline`.
 * A refresh token is a JWT of another `typ`, so it can never pass as an access
 * token; it names its subject and a stamp of the subject's credential.
 */
import { SignJWT } from "jose";
import type { KeyRing } from "./keys.ts";
import type { AccessEntry } from "./scope.ts";

export const ACCESS_TOKEN_TYPE = "JWT";
export const REFRESH_TOKEN_TYPE = "rt+jwt";
/** The web interface's sign-in (src/ui/session.ts): never accepted as an access or refresh token. */
export const SESSION_TOKEN_TYPE = "session+jwt";
/** One upload session's capability, carried in its Location (the split deployment): never an access token. */
export const UPLOAD_GRANT_TYPE = "upload+jwt";

export interface TokenSettings {
  issuer: string;
  /** The audience (`aud`): the registry's service name. */
  service: string;
  tokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  now?: () => number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  /** RFC 3339. */
  issuedAt: string;
}

export class TokenIssuer {
  private readonly ring: KeyRing;
  private readonly settings: TokenSettings;

  constructor(ring: KeyRing, settings: TokenSettings) {
    this.ring = ring;
    this.settings = settings;
  }

  /** `subject` is "" for an anonymous caller (jwt.md). */
  async accessToken(subject: string, access: AccessEntry[]): Promise<IssuedToken> {
    const now = this.now();
    const token = await this.sign({ access }, ACCESS_TOKEN_TYPE, subject, now, this.settings.tokenTtlSeconds);
    return { token, expiresIn: this.settings.tokenTtlSeconds, issuedAt: new Date(now * 1000).toISOString().replace(".000Z", "Z") };
  }

  async refreshToken(subject: string, stamp: string): Promise<string> {
    return this.sign({ stamp }, REFRESH_TOKEN_TYPE, subject, this.now(), this.settings.refreshTokenTtlSeconds);
  }

  /** A browser session: its subject, its credential's stamp (null for OIDC) and the session's CSRF secret. */
  async sessionToken(subject: string, stamp: string | null, csrf: string, ttlSeconds: number): Promise<string> {
    return this.sign({ stamp, csrf }, SESSION_TOKEN_TYPE, subject, this.now(), ttlSeconds);
  }

  /** Push to upload session `upload` of `repository`, and nothing else, for `ttl` seconds. */
  async uploadGrant(subject: string, repository: string, upload: string, ttl: number): Promise<string> {
    return this.sign({ repository, upload }, UPLOAD_GRANT_TYPE, subject, this.now(), ttl);
  }

  private sign(claims: Record<string, unknown>, typ: string, subject: string, now: number, ttl: number): Promise<string> {
    const { signer } = this.ring;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: signer.alg, typ, kid: signer.kid })
      .setIssuer(this.settings.issuer)
      .setSubject(subject)
      .setAudience(this.settings.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(crypto.randomUUID())
      .sign(signer.privateKey);
  }

  private now(): number {
    return Math.floor((this.settings.now ?? Date.now)() / 1000);
  }
}
