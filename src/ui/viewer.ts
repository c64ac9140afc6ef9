/**
 * Who is looking at a page, and what the auth policy lets them see and do: the same
 * policy the /v2/ routes apply, so a page never shows a repository its visitor could
 * not pull, nor a button for an action the API would refuse them.
 */
import type { Identity } from "../auth/identities.ts";
import type { Auth } from "../auth/service.ts";
import type { ReadAccess } from "../core/read-access.ts";

export interface Viewer extends ReadAccess {
  /** The signed-in identity's name; null for an anonymous visitor (or any visitor of an open registry). */
  readonly name: string | null;
  /** Who acts, as the audit log and events name callers: `user:alice`, `robot:ci`, `anonymous`. */
  readonly actor: string;
  /** The registry has sign-in (token auth is configured). */
  readonly canSignIn: boolean;
  mayDelete(repository: string): boolean;
  /**
   * May delete the whole repository at once: an administrator (what DELETE /admin/repositories
   * needs), or an identity with the delete right on it, who could already delete each of its
   * manifests and blob links through /v2/; the catalog entry and upload records that also go
   * are no more than that leaves behind.
   */
  mayDeleteRepository(repository: string): boolean;
  readonly mayAdminister: boolean;
}

/** No auth configured: the API is open to every caller, and so is every page. */
export const openRegistryViewer: Viewer = {
  name: null,
  actor: "anonymous",
  canSignIn: false,
  mayRead: () => true,
  mayReadAll: true,
  mayDelete: () => true,
  mayDeleteRepository: () => true,
  mayAdminister: true,
};

/** `identity` null: anonymous, who sees what anonymous pull allows (public namespaces). */
export function policyViewer(auth: Auth, identity: Identity | null): Viewer {
  return {
    name: identity?.name ?? null,
    actor: identity ? `${identity.kind}:${identity.name}` : "anonymous",
    canSignIn: true,
    mayRead: (repository) => auth.actionsFor(identity, repository).has("pull"),
    mayReadAll: auth.mayPullEverything(identity),
    mayDelete: (repository) => auth.actionsFor(identity, repository).has("delete"),
    mayDeleteRepository: (repository) => auth.mayAdminister(identity) || auth.actionsFor(identity, repository).has("delete"),
    mayAdminister: auth.mayAdminister(identity),
  };
}
