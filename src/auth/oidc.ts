/**
 * Trusted OIDC issuers: a CI system's short-lived ID token (GitHub Actions,
 * GitLab, …) becomes an identity when its signature checks out against the
 * issuer's JWKS and its claims match a configured condition set.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcIssuerConfig } from "./config.ts";
import type { Identity } from "./identities.ts";

/** jose error codes that mean "this token is not good", as opposed to "the issuer's keys could not be read". */
const INVALID_TOKEN = /^ERR_(JWT|JWS)_|^ERR_JOSE_ALG_NOT_ALLOWED$|^ERR_JWKS_NO_MATCHING_KEY$/;
/** ID tokens are signed with the issuer's private key; symmetric algorithms are never accepted. */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export interface OidcOptions {
  clockToleranceSeconds: number;
  now?: () => number;
  /** Told why an issuer's keys could not be fetched (never a token). */
  warn?: (message: string) => void;
}

export class TrustedIssuer {
  readonly name: string;
  readonly issuer: string;
  private readonly config: OidcIssuerConfig;
  private readonly options: OidcOptions;
  private keySet: Promise<JWTVerifyGetKey> | undefined;

  constructor(config: OidcIssuerConfig, options: OidcOptions) {
    this.config = config;
    this.name = config.name;
    this.issuer = config.issuer;
    this.options = options;
  }

  /** The identity an ID token stands for, or null when it is not valid or matches no condition set. */
  async identify(idToken: string): Promise<Identity | null> {
    let payload: JWTPayload;
    try {
      const keys = await this.keys();
      ({ payload } = await jwtVerify(idToken, keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ["exp"],
        ...(this.options.now ? { currentDate: new Date(this.options.now()) } : {}),
      }));
    } catch (error) {
      // A bad or foreign token is the caller's problem; an unreachable or broken JWKS is the operator's.
      if (!INVALID_TOKEN.test((error as { code?: string }).code ?? "")) {
        this.options.warn?.(`OIDC issuer ${this.name}: could not check an ID token: ${(error as Error).message}`);
      }
      return null;
    }
    const match = this.config.identities.find((identity) => claimsMatch(identity.claims, payload));
    return match ? { kind: "oidc", name: match.name, teams: match.teams } : null;
  }

  private keys(): Promise<JWTVerifyGetKey> {
    if (!this.keySet) {
      this.keySet = this.jwksUri().then((uri) => createRemoteJWKSet(new URL(uri)));
      // A failed discovery is retried by the next login rather than remembered.
      this.keySet.catch(() => (this.keySet = undefined));
    }
    return this.keySet;
  }

  private async jwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const url = `${this.config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    // "manual": a redirect is refused like any other non-200 (Workers' fetch has no "error" mode).
    const response = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: "manual" });
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    const discovery = (await response.json()) as { jwks_uri?: unknown };
    if (typeof discovery.jwks_uri !== "string") throw new Error(`${url} has no jwks_uri`);
    return discovery.jwks_uri;
  }
}

/** Every condition must hold; a condition value may use `*` for any characters, an array means any of. */
export function claimsMatch(conditions: Record<string, string | string[]>, payload: JWTPayload): boolean {
  return Object.entries(conditions).every(([claim, wanted]) => {
    const actual = payload[claim];
    if (typeof actual !== "string") return false;
    return (Array.isArray(wanted) ? wanted : [wanted]).some((pattern) => glob(pattern).test(actual));
  });
}

function glob(pattern: string): RegExp {
  const body = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`, "s");
}
