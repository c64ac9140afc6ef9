/**
 * Verifies the registry's own JWTs (jwt.md § Verifying the token): the key
 * is chosen by `kid` among the trusted keys and must be used with its own
 * algorithm (so `alg: none` and HS256-keyed-with-the-public-key fail), then
 * issuer, audience, type and time (with a small clock tolerance).
 */
import { jwtVerify, type JWTPayload } from "jose";
import type { KeyRing } from "./keys.ts";
import type { AccessEntry } from "./scope.ts";
import { ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE, SESSION_TOKEN_TYPE, UPLOAD_GRANT_TYPE } from "./tokens.ts";

export interface VerifierSettings {
  issuer: string;
  service: string;
  clockToleranceSeconds: number;
  now?: () => number;
}

export interface VerifiedAccess {
  /** "" for an anonymous token. */
  subject: string;
  access: AccessEntry[];
}

export class TokenVerifier {
  private readonly ring: KeyRing;
  private readonly settings: VerifierSettings;

  constructor(ring: KeyRing, settings: VerifierSettings) {
    this.ring = ring;
    this.settings = settings;
  }

  /** The token's subject and access, or null when it is not a valid access token for this registry. */
  async access(token: string): Promise<VerifiedAccess | null> {
    const payload = await this.verify(token, ACCESS_TOKEN_TYPE);
    if (!payload || !isAccessList(payload.access)) return null;
    return { subject: payload.sub ?? "", access: payload.access };
  }

  /** A refresh token's subject, credential stamp, id (`jti`, for single use) and expiry (seconds). */
  async refresh(token: string): Promise<{ subject: string; stamp: string; id: string; expiresAt: number } | null> {
    const payload = await this.verify(token, REFRESH_TOKEN_TYPE);
    if (!payload || !payload.sub || typeof payload.stamp !== "string" || typeof payload.jti !== "string" || typeof payload.exp !== "number") return null;
    return { subject: payload.sub, stamp: payload.stamp, id: payload.jti, expiresAt: payload.exp };
  }

  async session(token: string): Promise<{ subject: string; stamp: string | null; csrf: string } | null> {
    const payload = await this.verify(token, SESSION_TOKEN_TYPE);
    if (!payload || !payload.sub || typeof payload.csrf !== "string") return null;
    if (payload.stamp !== null && typeof payload.stamp !== "string") return null;
    return { subject: payload.sub, stamp: payload.stamp, csrf: payload.csrf };
  }

  /** An upload grant's subject, repository and upload session. */
  async uploadGrant(token: string): Promise<{ subject: string; repository: string; upload: string } | null> {
    const payload = await this.verify(token, UPLOAD_GRANT_TYPE);
    if (!payload || typeof payload.repository !== "string" || typeof payload.upload !== "string") return null;
    return { subject: payload.sub ?? "", repository: payload.repository, upload: payload.upload };
  }

  private async verify(token: string, typ: string): Promise<JWTPayload | null> {
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const key = this.ring.byKid(header.kid);
          if (!key || key.alg !== header.alg) throw new Error("no trusted key has this kid and alg");
          return key.key;
        },
        {
          issuer: this.settings.issuer,
          audience: this.settings.service,
          algorithms: this.ring.algorithms(),
          typ,
          clockTolerance: this.settings.clockToleranceSeconds,
          requiredClaims: ["exp", "sub"],
          ...(this.settings.now ? { currentDate: new Date(this.settings.now()) } : {}),
        },
      );
      return payload;
    } catch {
      return null;
    }
  }
}

function isAccessList(value: unknown): value is AccessEntry[] {
  return (
    Array.isArray(value) &&
    value.every(
      (entry: unknown) =>
        typeof entry === "object" && entry !== null &&
        typeof (entry as AccessEntry).type === "string" &&
        typeof (entry as AccessEntry).name === "string" &&
        Array.isArray((entry as AccessEntry).actions) &&
        (entry as AccessEntry).actions.every((action) => typeof action === "string"),
    )
  );
}
