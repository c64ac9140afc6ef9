/**
 * The token service and verifier in one object, built from configuration.
 * Every runtime builds it the same way: `buildAuth(JSON.parse(secret))`, or
 * `createAuth(config.auth)` from an already validated registry config.
 */
import { type AuthStateStore, MemoryAuthState } from "./auth-state.ts";
import { Caller } from "./caller.ts";
import { LoginLimits } from "./login-limits.ts";
import { type AuthConfig, validateAuthConfig } from "./config.ts";
import { type Identity, Identities } from "./identities.ts";
import { generateSigningJwk, importSigningKey, importVerificationKey, KeyRing, type SigningKey, type TrustedKey } from "./keys.ts";
import { Policy } from "./policy.ts";
import { formatScope, MAX_SCOPES, parseScopes, repositoryAccess, type RepositoryAction } from "./scope.ts";
import { TokenIssuer } from "./tokens.ts";
import { TokenVerifier } from "./verifier.ts";

export interface AuthOptions {
  /** No signing key configured: make a throwaway ES256 key (Node, for trying things out) instead of failing. */
  ephemeralKeyIfNone?: boolean;
  /** Operator warnings; never given a secret. */
  warn?: (message: string) => void;
  now?: () => number;
  /**
   * Failed-login counts and used refresh tokens, shared by every process or isolate serving the
   * registry (auth-state.ts). Default: this process's memory, which bounds per process only.
   */
  state?: AuthStateStore;
}

/** Web sessions of users and robots last a working day; changing the password ends them sooner. */
const SESSION_TTL_SECONDS = 8 * 3600;
const OIDC_SESSION_TTL_SECONDS = 3600;
/** An upload grant lasts as long as an untouched upload does by default (uploadTtlSeconds): a long push must not lose it midway. */
const UPLOAD_GRANT_TTL_SECONDS = 24 * 3600;

export class AuthConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid auth configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "AuthConfigError";
  }
}

/** What a client sends to the token endpoint (token.md GET, oauth.md POST), already parsed. */
export interface TokenRequest {
  /** Basic credentials or `grant_type=password`; absent: anonymous. */
  credentials?: { username: string; password: string };
  /** `grant_type=refresh_token`. */
  refreshToken?: string;
  /** Each value may hold several space-separated scopes. */
  scopes: string[];
  /** `offline_token=true` or `access_type=offline`: also return a refresh token. */
  offline: boolean;
  service?: string;
  /** The client's address, for the per-address login limit; undefined when the runtime cannot tell. */
  client?: string;
}

/** token.md's and oauth.md's response fields together: clients read one or the other. */
export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  scope: string;
  refresh_token?: string;
}

export type TokenOutcome =
  | { ok: true; body: TokenResponse }
  | { ok: false; status: 400 | 401; message: string }
  | { ok: false; status: 429; message: string; retryAfterSeconds: number };

/** A web sign-in: a session token, or why not (wrong credentials; too many failures, with the wait). */
export type SignInOutcome = { ok: true; token: string } | { ok: false; retryAfterSeconds?: number };

export async function buildAuth(raw: unknown, options: AuthOptions = {}): Promise<Auth> {
  const { config, problems } = validateAuthConfig(raw);
  if (!config) throw new AuthConfigError(problems);
  return createAuth(config, options);
}

export async function createAuth(config: AuthConfig, options: AuthOptions = {}): Promise<Auth> {
  const problems: string[] = [];
  const imported = async <T>(what: string, load: () => Promise<T>): Promise<T | null> =>
    load().catch((error: unknown) => {
      problems.push(`${what} could not be imported: ${(error as Error).message}`);
      return null;
    });
  const signing = (await Promise.all(config.signingKeys.map((key, i) => imported(`signingKeys[${i}]`, () => importSigningKey(key))))).filter((k): k is SigningKey => k !== null);
  const verification = (await Promise.all(config.verificationKeys.map((jwk, i) => imported(`verificationKeys[${i}]`, () => importVerificationKey(jwk))))).filter((k): k is TrustedKey => k !== null);
  if (config.signingKeys.length === 0) {
    if (options.ephemeralKeyIfNone) {
      signing.push(await importSigningKey({ jwk: await generateSigningJwk() }));
      options.warn?.("auth: no signingKeys configured; signing with a throwaway ES256 key. Tokens stop working when this process restarts. `npm run auth:keygen` makes a lasting key.");
    } else {
      problems.push("signingKeys is empty: add a private key (`npm run auth:keygen` prints one)");
    }
  }
  let ring: KeyRing | undefined;
  if (problems.length === 0) {
    try {
      ring = new KeyRing(signing, verification, config.signingKeyId);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (!ring || problems.length > 0) throw new AuthConfigError(problems);
  return new Auth(config, ring, options);
}

export class Auth {
  readonly service: string;
  /** The configured token endpoint URL; undefined: derive it from each request. */
  readonly realm: string | undefined;
  // Not readonly: a reload (SIGHUP on Node) swaps them all at once for a new configuration's.
  private config: AuthConfig;
  private ring: KeyRing;
  private policy: Policy;
  private identities: Identities;
  private issuer: TokenIssuer;
  private verifier: TokenVerifier;
  private loginLimits: LoginLimits;
  /** Kept across reloads: failed logins and used refresh tokens are facts, not configuration. */
  private readonly state: AuthStateStore;
  private readonly now: (() => number) | undefined;

  constructor(config: AuthConfig, ring: KeyRing, options: AuthOptions = {}) {
    this.config = config;
    this.service = config.service;
    this.realm = config.realm;
    this.ring = ring;
    this.policy = new Policy(config.rules, config.public);
    const clock = options.now ? { now: options.now } : {};
    this.identities = new Identities(config, { clockToleranceSeconds: config.clockToleranceSeconds, ...clock, ...(options.warn ? { warn: options.warn } : {}) });
    this.issuer = new TokenIssuer(ring, { ...config, ...clock });
    this.verifier = new TokenVerifier(ring, { ...config, ...clock });
    this.state = options.state ?? new MemoryAuthState(options.now);
    this.now = options.now;
    this.loginLimits = this.limitsFor(config);
  }

  private limitsFor(config: AuthConfig): LoginLimits {
    return new LoginLimits(
      this.state,
      { perAddress: config.loginFailuresPerAddress, perName: config.loginFailuresPerName, windowSeconds: config.loginFailureWindowSeconds },
      this.now,
    );
  }

  /**
   * Takes over `next`'s users, robots, rules, trusted issuers and keys, in one synchronous
   * step: a request sees the old configuration or the new one, never a mix. The service
   * and realm are fixed for the process's life (the routes were built with them), so a
   * configuration that changes them is refused; the reason says to restart.
   */
  adopt(next: Auth): void {
    if (next.service !== this.service || next.realm !== this.realm) throw new AuthConfigError(["auth.service and auth.realm cannot change without a restart"]);
    this.config = next.config;
    this.ring = next.ring;
    this.policy = next.policy;
    this.identities = next.identities;
    this.issuer = next.issuer;
    this.verifier = next.verifier;
    this.loginLimits = this.limitsFor(next.config);
  }

  /** The JWKS document of every key a token of this registry may be signed with. */
  jwks(): { keys: unknown[] } {
    return this.ring.jwks();
  }

  /**
   * The caller behind an `Authorization` header: anonymous without a Bearer
   * token, null when the Bearer token is not valid here.
   */
  async caller(authorization: string | undefined): Promise<Caller | null> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) return new Caller(this.policy, null, null);
    const verified = await this.verifier.access(match[1]!);
    if (!verified) return null;
    const identity = verified.subject === "" ? null : this.identities.byName(verified.subject);
    return new Caller(this.policy, identity, verified.access);
  }

  /**
   * The split deployment (docs/aws.md): a capability for one upload session, which the function
   * puts in the Location it hands to the upload server. docker and containerd send their token
   * only to the host they logged in to, never to another host a Location names; the grant lets
   * them continue the session there. It permits push to that session of that repository alone,
   * for as long as an untouched upload lives (its bytes are still checked against the digest).
   */
  async uploadGrant(caller: Caller | null, repository: string, upload: string): Promise<string> {
    return this.issuer.uploadGrant(caller?.identity?.name ?? "", repository, upload, UPLOAD_GRANT_TTL_SECONDS);
  }

  /** The caller an upload grant stands for on `upload` of `repository`; null when it is not one for exactly that session. */
  async uploadCaller(grant: string, repository: string, upload: string): Promise<Caller | null> {
    const verified = await this.verifier.uploadGrant(grant);
    if (!verified || verified.repository !== repository || verified.upload !== upload) return null;
    const identity = verified.subject === "" ? null : this.identities.byName(verified.subject);
    return new Caller(this.policy, identity, [repositoryAccess(repository, ["push"])]);
  }

  /** The token endpoint's decision. Failing to authenticate is an error; asking for more than allowed is not (token.md). */
  async exchange(request: TokenRequest): Promise<TokenOutcome> {
    if (request.service !== undefined && request.service !== this.service) {
      return { ok: false, status: 400, message: `this token service issues tokens for the service "${this.service}" only` };
    }
    const requested = parseScopes(request.scopes);
    if (requested.length > MAX_SCOPES) return { ok: false, status: 400, message: `at most ${MAX_SCOPES} scopes per token` };

    let identity: Identity | null = null;
    let refreshToken: string | undefined;
    if (request.refreshToken !== undefined) {
      const refreshed = await this.refreshIdentity(request.refreshToken, request.offline);
      if (!refreshed.identity) return { ok: false, status: 401, message: refreshed.problem };
      identity = refreshed.identity;
      if (request.offline) refreshToken = await this.newRefreshToken(identity);
    } else if (request.credentials) {
      const { username, password } = request.credentials;
      const wait = await this.loginLimits.waitBeforeTrying(username, request.client);
      if (wait > 0) {
        return { ok: false, status: 429, retryAfterSeconds: wait, message: `too many failed logins for this name or from this address; try again in ${wait} s` };
      }
      identity = await this.identities.authenticate(username, password);
      if (!identity) {
        await this.loginLimits.recordFailure(username, request.client);
        return { ok: false, status: 401, message: "invalid credentials" };
      }
      if (request.offline) refreshToken = await this.newRefreshToken(identity);
    }
    const access = this.policy.grant(identity, requested);
    const issued = await this.issuer.accessToken(identity?.name ?? "", access);
    const body: TokenResponse = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
      scope: access.map(formatScope).join(" "),
    };
    if (refreshToken) body.refresh_token = refreshToken;
    return { ok: true, body };
  }

  /**
   * The web interface's sign-in: the same identities as the token endpoint. Answers a session
   * token for a cookie, or null for wrong credentials (never saying which part was wrong).
   */
  async signIn(username: string, password: string, csrf: string, client?: string): Promise<SignInOutcome> {
    // The same failed-login limits as the token endpoint: the form must not be a way around them.
    const wait = await this.loginLimits.waitBeforeTrying(username, client);
    if (wait > 0) return { ok: false, retryAfterSeconds: wait };
    const identity = await this.identities.authenticate(username, password);
    if (!identity) {
      await this.loginLimits.recordFailure(username, client);
      return { ok: false };
    }
    const stamp = await this.identities.credentialStamp(identity);
    // OIDC identities have no stored credential to revoke a session by: they get a short one.
    return { ok: true, token: await this.issuer.sessionToken(identity.name, stamp, csrf, stamp ? SESSION_TTL_SECONDS : OIDC_SESSION_TTL_SECONDS) };
  }

  /** The identity and CSRF secret of a valid session token; null when expired, forged or its credential changed since. */
  async session(token: string): Promise<{ identity: Identity; csrf: string } | null> {
    const verified = await this.verifier.session(token);
    const identity = verified ? this.identities.byName(verified.subject) : null;
    if (!verified || !identity) return null;
    if ((await this.identities.credentialStamp(identity)) !== verified.stamp) return null;
    return { identity, csrf: verified.csrf };
  }

  /** What the policy lets `identity` (null: anonymous) do with `repository`. */
  actionsFor(identity: Identity | null, repository: string): Set<RepositoryAction> {
    return this.policy.actionsFor(identity, repository);
  }

  mayAdminister(identity: Identity | null): boolean {
    return this.policy.mayAdminister(identity);
  }

  /** A pull rule on `*`: every repository is readable to `identity`. */
  mayPullEverything(identity: Identity | null): boolean {
    return this.policy.mayPullEverything(identity);
  }

  private async newRefreshToken(identity: Identity): Promise<string | undefined> {
    const stamp = await this.identities.credentialStamp(identity);
    if (!stamp || this.config.refreshTokenTtlSeconds === 0) return undefined;
    return this.issuer.refreshToken(identity.name, stamp);
  }

  /**
   * A refresh token stands for its subject while the subject exists and keeps the credential it
   * logged in with. Exchanged for a new refresh token (`rotate`: the client asked for one), it is
   * used up: presented again, it is refused, so a stolen copy dies with its first use by either
   * party. Exchanged for access tokens only, it stays valid until it expires (or is rotated away): Docker keeps the
   * refresh token of `docker login` and presents it on every later command without storing any
   * rotated one.
   */
  private async refreshIdentity(token: string, rotate: boolean): Promise<{ identity: Identity; problem?: never } | { identity: null; problem: string }> {
    const invalid = { identity: null, problem: "the refresh token is not valid" } as const;
    const verified = await this.verifier.refresh(token);
    const identity = verified ? this.identities.byName(verified.subject) : null;
    if (!verified || !identity) return invalid;
    if ((await this.identities.credentialStamp(identity)) !== verified.stamp) return invalid;
    const id = `refresh:${verified.id}`;
    if (rotate ? !(await this.state.useOnce(id, verified.expiresAt * 1000)) : await this.state.wasUsed(id)) {
      return { identity: null, problem: "the refresh token was already exchanged for a new one; use that one, or log in again" };
    }
    return { identity };
  }
}
