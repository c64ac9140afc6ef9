/**
 * Who is calling: users (password hashes), robots (token hashes) and OIDC
 * identities (ID tokens of trusted issuers), all from configuration. Basic
 * credentials choose the source by username: an OIDC issuer's name (or
 * `oidc`), else a user, else a robot.
 */
import { decodeJwt } from "jose";
import { sha256Hex } from "./bytes.ts";
import { type AuthConfig, OIDC_USERNAME } from "./config.ts";
import { TrustedIssuer, type OidcOptions } from "./oidc.ts";
import { DEFAULT_ITERATIONS, hashPassword, parsePasswordHash, verifyPassword, type PasswordHash } from "./passwords.ts";
import { robotTokenMatches } from "./robot-tokens.ts";

export interface Identity {
  kind: "user" | "robot" | "oidc";
  /** Unique across kinds; the token's `sub`. */
  name: string;
  teams: readonly string[];
}

interface Account {
  identity: Identity;
  /** The stored credential (password hash or token hash): checked at login, fingerprinted into refresh tokens. */
  credential: string;
  password?: PasswordHash;
}

export class Identities {
  private readonly accounts = new Map<string, Account>();
  private readonly oidcIdentities = new Map<string, Identity>();
  private readonly issuers: TrustedIssuer[];
  /** Unknown usernames still pay for one PBKDF2 run (as costly as the costliest user's), so timing does not tell which users exist. */
  private decoy: Promise<PasswordHash> | undefined;
  private readonly decoyIterations: number;

  constructor(config: Pick<AuthConfig, "users" | "robots" | "oidc">, oidc: OidcOptions) {
    for (const [name, user] of Object.entries(config.users)) {
      const password = parsePasswordHash(user.password) ?? undefined;
      this.accounts.set(name, { identity: { kind: "user", name, teams: user.teams }, credential: user.password, ...(password ? { password } : {}) });
    }
    for (const [name, robot] of Object.entries(config.robots)) {
      this.accounts.set(name, { identity: { kind: "robot", name, teams: robot.teams }, credential: robot.tokenHash });
    }
    for (const issuer of config.oidc) {
      for (const identity of issuer.identities) this.oidcIdentities.set(identity.name, { kind: "oidc", name: identity.name, teams: identity.teams });
    }
    this.issuers = config.oidc.map((issuer) => new TrustedIssuer(issuer, oidc));
    this.decoyIterations = Math.max(DEFAULT_ITERATIONS, ...[...this.accounts.values()].map((account) => account.password?.iterations ?? 0));
  }

  /** The identity the credentials prove, or null. Never says which part was wrong. */
  async authenticate(username: string, secret: string): Promise<Identity | null> {
    const issuer = this.issuerFor(username, secret);
    if (issuer !== undefined) return issuer ? issuer.identify(secret) : null;
    const account = this.accounts.get(username);
    if (account?.password) return (await verifyPassword(secret, account.password)) ? account.identity : null;
    if (account?.identity.kind === "robot" && (await robotTokenMatches(secret, account.credential))) return account.identity;
    // A wrong robot token (a fast hash) and an unknown name pay what a wrong password costs, so
    // the time of a failed login tells neither which names exist nor which of them are robots.
    await this.decoyWork(secret);
    return null;
  }

  /** One PBKDF2 run as costly as the costliest user's. */
  private async decoyWork(secret: string): Promise<void> {
    this.decoy ??= hashPassword("decoy", this.decoyIterations).then((hash) => parsePasswordHash(hash)!);
    await verifyPassword(secret, await this.decoy);
  }

  /** The identity a token's `sub` names, or null when it no longer exists. */
  byName(name: string): Identity | null {
    return this.accounts.get(name)?.identity ?? this.oidcIdentities.get(name) ?? null;
  }

  /**
   * A fingerprint of the identity's stored credential, put into refresh
   * tokens so that changing a password or robot token revokes them. Null
   * for OIDC identities: CI gets short-lived access tokens only.
   */
  async credentialStamp(identity: Identity): Promise<string | null> {
    const account = this.accounts.get(identity.name);
    return account ? (await sha256Hex(account.credential)).slice(0, 16) : null;
  }

  /** The issuer a username selects (null: selects OIDC, but no configured issuer fits); undefined when it is not an OIDC login. */
  private issuerFor(username: string, idToken: string): TrustedIssuer | null | undefined {
    const named = this.issuers.find((issuer) => issuer.name === username);
    if (named) return named;
    if (username !== OIDC_USERNAME) return undefined;
    let iss: unknown;
    try {
      iss = decodeJwt(idToken).iss;
    } catch {
      return null;
    }
    return this.issuers.find((issuer) => issuer.issuer === iss) ?? null;
  }
}
