/**
 * The auth configuration: one typed schema, validated with a message per
 * mistake. Pure (no node:*): Workers and Lambda build it from a JSON secret.
 * Messages name settings, never their values, since values may be secrets.
 */
import type { JWK } from "jose";
import { isRepositoryName } from "../core/names.ts";
import { parsePasswordHash } from "./passwords.ts";
import type { PolicyRule } from "./policy.ts";
import type { RepositoryAction } from "./scope.ts";
import { ROBOT_TOKEN_HASH } from "./robot-tokens.ts";
import { isObject, Problems } from "./config-problems.ts";

export interface SigningKeyConfig {
  /** Defaults to the `kid` of `jwk`, else the key's RFC 7638 thumbprint. */
  kid?: string;
  /** Defaults to the `alg` of `jwk`, else ES256 / ES384 / EdDSA / RS256 by key type. */
  alg?: string;
  /** A private JWK (with `d`). */
  jwk?: JWK;
  /** Or a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`). */
  pem?: string;
}

export interface UserConfig {
  /** `pbkdf2-sha256$…` from `npm run auth:hash-password`. */
  password: string;
  teams: string[];
}

export interface RobotConfig {
  /** `sha256:<hex>` from `npm run auth:robot-token`. */
  tokenHash: string;
  teams: string[];
}

export interface OidcIdentityConfig {
  /** The identity a matching ID token becomes (token `sub`, policy `identities`). */
  name: string;
  teams: string[];
  /** Every listed claim must match; a value may use `*` for any characters, an array means any of. */
  claims: Record<string, string | string[]>;
}

export interface OidcIssuerConfig {
  /** The Basic username CI presents its ID token with (the literal `oidc` works too). */
  name: string;
  /** Must equal the ID token's `iss`. */
  issuer: string;
  /** Must be in the ID token's `aud`. */
  audience: string;
  /** Defaults to the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  identities: OidcIdentityConfig[];
}

export interface AuthConfig {
  /** The token audience (`aud`) and the challenge's `service`. */
  service: string;
  /** The tokens' `iss`. */
  issuer: string;
  /** The token endpoint URL clients are sent to; default `<request origin>/token` (set it behind a proxy). */
  realm?: string;
  tokenTtlSeconds: number;
  /** Lifetime of refresh tokens (`offline_token=true`, `access_type=offline`); 0 issues none. */
  refreshTokenTtlSeconds: number;
  clockToleranceSeconds: number;
  signingKeys: SigningKeyConfig[];
  /** The `kid` that signs new tokens; default the first signing key. The others still verify. */
  signingKeyId?: string;
  /** Public JWKs whose tokens are still accepted (a retired signing key, an external token service). */
  verificationKeys: JWK[];
  users: Record<string, UserConfig>;
  robots: Record<string, RobotConfig>;
  oidc: OidcIssuerConfig[];
  /** Repository patterns anyone may pull, anonymous callers included. */
  public: string[];
  rules: PolicyRule[];
  /** Failed logins one client address may make per window before it must wait (login-limits.ts). */
  loginFailuresPerAddress: number;
  /** Failed logins for one name per window before only addresses without failures may try it. */
  loginFailuresPerName: number;
  loginFailureWindowSeconds: number;
}

/** Identity and issuer names: no `:` (Basic auth splits on it), nothing a log line could misread. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const SIGNING_ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
/** The Basic username that selects OIDC by the token's issuer. */
export const OIDC_USERNAME = "oidc";

const KEYS: (keyof AuthConfig)[] = [
  "service", "issuer", "realm", "tokenTtlSeconds", "refreshTokenTtlSeconds", "clockToleranceSeconds",
  "signingKeys", "signingKeyId", "verificationKeys", "users", "robots", "oidc", "public", "rules",
  "loginFailuresPerAddress", "loginFailuresPerName", "loginFailureWindowSeconds",
];

export function validateAuthConfig(raw: unknown): { config?: AuthConfig; problems: string[] } {
  const p = new Problems();
  if (!isObject(raw)) return { problems: ["must be a JSON object"] };
  p.unknownKeys(raw, KEYS, "");
  const service = p.text(raw.service, "service") ?? "oci-registry";
  const config: AuthConfig = {
    service,
    issuer: p.text(raw.issuer, "issuer") ?? service,
    tokenTtlSeconds: p.integer(raw.tokenTtlSeconds, "tokenTtlSeconds", 60, 24 * 3600) ?? 300,
    refreshTokenTtlSeconds: p.integer(raw.refreshTokenTtlSeconds, "refreshTokenTtlSeconds", 0, 365 * 24 * 3600) ?? 7 * 24 * 3600,
    clockToleranceSeconds: p.integer(raw.clockToleranceSeconds, "clockToleranceSeconds", 0, 300) ?? 30,
    signingKeys: p.list(raw.signingKeys, "signingKeys", (v, at) => signingKey(p, v, at)),
    verificationKeys: p.list(raw.verificationKeys, "verificationKeys", (v, at) => verificationKey(p, v, at)),
    users: p.record(raw.users, "users", (v, at) => user(p, v, at)),
    robots: p.record(raw.robots, "robots", (v, at) => robot(p, v, at)),
    oidc: p.list(raw.oidc, "oidc", (v, at) => oidcIssuer(p, v, at)),
    public: p.list(raw.public, "public", (v, at) => pattern(p, v, at)),
    rules: p.list(raw.rules, "rules", (v, at) => rule(p, v, at)),
    loginFailuresPerAddress: p.integer(raw.loginFailuresPerAddress, "loginFailuresPerAddress", 1, 1_000_000) ?? 20,
    loginFailuresPerName: p.integer(raw.loginFailuresPerName, "loginFailuresPerName", 1, 1_000_000) ?? 10,
    loginFailureWindowSeconds: p.integer(raw.loginFailureWindowSeconds, "loginFailureWindowSeconds", 1, 24 * 3600) ?? 60,
  };
  const realm = p.url(raw.realm, "realm", false, true);
  if (realm) config.realm = realm;
  const signingKeyId = p.text(raw.signingKeyId, "signingKeyId");
  if (signingKeyId) {
    config.signingKeyId = signingKeyId;
    // Checked here, with every other mistake, when each key names its kid; a key whose kid is its
    // thumbprint is only known once imported (asynchronously), and is checked then.
    const kids = config.signingKeys.map((key) => key.kid ?? key.jwk?.kid);
    if (kids.every((kid) => kid !== undefined) && !kids.includes(signingKeyId)) {
      p.add(`signingKeyId "${signingKeyId}" names no signing key (their kids: ${kids.map((kid) => `"${kid}"`).join(", ") || "none"})`);
    }
  }
  uniqueNames(p, config);
  return p.problems.length > 0 ? { problems: p.problems } : { config, problems: [] };
}

function signingKey(p: Problems, v: unknown, at: string): SigningKeyConfig | undefined {
  if (!p.object(v, at, ["kid", "alg", "jwk", "pem"])) return undefined;
  const key: SigningKeyConfig = {};
  const kid = p.text(v.kid, `${at}.kid`);
  if (kid) key.kid = kid;
  const alg = p.oneOf(v.alg, `${at}.alg`, SIGNING_ALGORITHMS);
  if (alg) key.alg = alg;
  if ((v.jwk === undefined) === (v.pem === undefined)) p.add(`${at} needs exactly one of jwk (a private JWK) or pem (PKCS#8); npm run auth:keygen prints one`);
  if (v.jwk !== undefined) {
    if (!isObject(v.jwk) || typeof v.jwk.kty !== "string" || typeof v.jwk.d !== "string") p.add(`${at}.jwk must be a private JWK (with kty and d)`);
    else key.jwk = v.jwk as JWK;
  }
  if (v.pem !== undefined) {
    if (typeof v.pem !== "string" || !v.pem.includes("-----BEGIN PRIVATE KEY-----")) p.add(`${at}.pem must be a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)`);
    else if (!key.alg) p.add(`${at}.alg is required with pem`);
    else key.pem = v.pem;
  }
  return key;
}

function verificationKey(p: Problems, v: unknown, at: string): JWK | undefined {
  if (!isObject(v) || typeof v.kty !== "string" || typeof v.kid !== "string") return p.add(`${at} must be a public JWK with kty and kid`);
  if (v.d !== undefined || v.k !== undefined) return p.add(`${at} must be a public key: remove its private part`);
  if (v.alg !== undefined) p.oneOf(v.alg, `${at}.alg`, SIGNING_ALGORITHMS);
  return v as JWK;
}

function user(p: Problems, v: unknown, at: string): UserConfig | undefined {
  if (!p.object(v, at, ["password", "teams"])) return undefined;
  if (typeof v.password !== "string" || !parsePasswordHash(v.password)) {
    return p.add(`${at}.password must be a pbkdf2-sha256 hash with at least 100000 iterations (make one with npm run auth:hash-password)`);
  }
  return { password: v.password, teams: teams(p, v.teams, `${at}.teams`) };
}

function robot(p: Problems, v: unknown, at: string): RobotConfig | undefined {
  if (!p.object(v, at, ["tokenHash", "teams"])) return undefined;
  if (typeof v.tokenHash !== "string" || !ROBOT_TOKEN_HASH.test(v.tokenHash)) {
    return p.add(`${at}.tokenHash must be sha256:<64 hex digits> (make one with npm run auth:robot-token)`);
  }
  return { tokenHash: v.tokenHash, teams: teams(p, v.teams, `${at}.teams`) };
}

function oidcIssuer(p: Problems, v: unknown, at: string): OidcIssuerConfig | undefined {
  if (!p.object(v, at, ["name", "issuer", "audience", "jwksUri", "identities"])) return undefined;
  const name = p.name(v.name, `${at}.name`, NAME);
  const issuer = p.url(v.issuer, `${at}.issuer`, true);
  const audience = p.text(v.audience, `${at}.audience`, true);
  const identities = p.list(v.identities, `${at}.identities`, (w, where) => oidcIdentity(p, w, where));
  if (identities.length === 0) p.add(`${at}.identities must map at least one set of claims to an identity`);
  if (!name || !issuer || !audience) return undefined;
  const config: OidcIssuerConfig = { name, issuer, audience, identities };
  const jwksUri = p.url(v.jwksUri, `${at}.jwksUri`);
  if (jwksUri) config.jwksUri = jwksUri;
  return config;
}

function oidcIdentity(p: Problems, v: unknown, at: string): OidcIdentityConfig | undefined {
  if (!p.object(v, at, ["name", "teams", "claims"])) return undefined;
  const name = p.name(v.name, `${at}.name`, NAME);
  const claims: Record<string, string | string[]> = {};
  if (isObject(v.claims)) {
    for (const [claim, value] of Object.entries(v.claims)) {
      const ok = typeof value === "string" || (Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === "string"));
      if (ok) claims[claim] = value as string | string[];
      else p.add(`${at}.claims.${claim} must be a string or a non-empty array of strings`);
    }
  }
  // An issuer such as GitHub Actions signs tokens for every repository it hosts: a rule without conditions would trust them all.
  if (Object.keys(claims).length === 0) p.add(`${at}.claims must name at least one claim to match (e.g. repository, ref)`);
  const teamList = teams(p, v.teams, `${at}.teams`);
  return name ? { name, teams: teamList, claims } : undefined;
}

function rule(p: Problems, v: unknown, at: string): PolicyRule | undefined {
  if (!p.object(v, at, ["teams", "identities", "authenticated", "everyone", "repositories", "actions", "catalog", "admin"])) return undefined;
  const result: PolicyRule = {};
  if (v.teams !== undefined) result.teams = teams(p, v.teams, `${at}.teams`);
  if (v.identities !== undefined) result.identities = p.list(v.identities, `${at}.identities`, (w, where) => p.name(w, where, NAME));
  for (const flag of ["authenticated", "everyone", "catalog", "admin"] as const) {
    if (v[flag] === undefined) continue;
    if (typeof v[flag] !== "boolean") p.add(`${at}.${flag} must be true or false`);
    else result[flag] = v[flag];
  }
  if (result.admin && result.everyone) p.add(`${at}: admin: true cannot apply to everyone (anonymous callers); name teams or identities`);
  if (!result.teams?.length && !result.identities?.length && !result.authenticated && !result.everyone) {
    p.add(`${at} applies to nobody: give teams, identities, authenticated: true or everyone: true`);
  }
  if (v.repositories !== undefined || v.actions !== undefined) {
    result.repositories = p.list(v.repositories, `${at}.repositories`, (w, where) => pattern(p, w, where));
    result.actions = p.list(v.actions, `${at}.actions`, (w, where) => p.oneOf(w, where, ["pull", "push", "delete", "*"]) as RepositoryAction | "*" | undefined);
    if (result.repositories.length === 0 || result.actions.length === 0) p.add(`${at} needs both repositories and actions`);
  } else if (!result.catalog && !result.admin) {
    p.add(`${at} grants nothing: give repositories and actions, catalog: true or admin: true`);
  }
  return result;
}

function pattern(p: Problems, v: unknown, at: string): string | undefined {
  const ok = typeof v === "string" && (v === "*" || isRepositoryName(v.endsWith("/*") ? v.slice(0, -2) : v));
  return ok ? v : p.add(`${at} must be "*", "<name>/*" or a repository name, not ${JSON.stringify(v)}`);
}

function teams(p: Problems, v: unknown, at: string): string[] {
  if (v === undefined) return [];
  return p.list(v, at, (w, where) => p.name(w, where, NAME));
}

/** Basic auth picks the identity by username, and tokens name it in `sub`: names must be unambiguous. */
function uniqueNames(p: Problems, config: AuthConfig): void {
  const seen = new Map<string, string>([[OIDC_USERNAME, "the reserved OIDC username"]]);
  const claim = (name: string, what: string) => {
    const before = seen.get(name);
    if (before) p.add(`${what} is named "${name}" like ${before}; names must be unique across users, robots and OIDC`);
    else seen.set(name, what);
  };
  for (const name of Object.keys(config.users)) claim(name, `user ${name}`);
  for (const name of Object.keys(config.robots)) claim(name, `robot ${name}`);
  for (const issuer of config.oidc) {
    claim(issuer.name, `OIDC issuer ${issuer.name}`);
    for (const identity of issuer.identities) claim(identity.name, `OIDC identity ${identity.name}`);
  }
  for (const name of [...Object.keys(config.users), ...Object.keys(config.robots)]) {
    if (!NAME.test(name)) p.add(`"${name.slice(0, 60)}" is not a valid name: use letters, digits, ".", "_", "@", "-" (no ":")`);
  }
}
