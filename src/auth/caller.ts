/**
 * The caller of one registry request: the identity and access its token
 * carries, or an anonymous caller with no token. Routes ask it whether an
 * action is permitted; the core asks it which repositories it may read.
 */
import type { Identity } from "./identities.ts";
import type { Policy } from "./policy.ts";
import { type AccessEntry, type RepositoryAction, catalogAccess, covers } from "./scope.ts";

export class Caller {
  /** The identity the token's subject names; null when anonymous or no longer configured. */
  readonly identity: Identity | null;
  /** The token's `access`; null without a token. */
  private readonly access: readonly AccessEntry[] | null;
  private readonly policy: Policy;

  constructor(policy: Policy, identity: Identity | null, access: readonly AccessEntry[] | null) {
    this.policy = policy;
    this.identity = identity;
    this.access = access;
  }

  get hasToken(): boolean {
    return this.access !== null;
  }

  /**
   * The token grants the action, or anyone may take it (a public pull) —
   * the second needs no token, and asking a token holder for another token
   * to read what anyone can read would only cost a round trip.
   */
  permits(type: string, name: string, action: string): boolean {
    if (this.access && covers(this.access, type, name, action)) return true;
    if (type === "repository") return this.policy.allows(null, name, action as RepositoryAction);
    if (type === catalogAccess.type && name === catalogAccess.name) return this.policy.mayListCatalog(null);
    return false;
  }

  /** For mounts and the catalog: the token grants pull, or the policy lets this identity pull. */
  mayRead(repository: string): boolean {
    return this.permits("repository", repository, "pull") || this.policy.allows(this.identity, repository, "pull");
  }

  get mayReadAll(): boolean {
    return this.policy.mayPullEverything(this.identity);
  }
}
