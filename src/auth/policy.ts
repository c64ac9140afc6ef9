/**
 * Who may do what: rules map identities and teams to repository name
 * patterns and actions. Access is only ever granted by a rule; nothing is
 * denied explicitly, so the order of rules does not matter.
 */
import { isRepositoryName } from "../core/names.ts";
import type { Identity } from "./identities.ts";
import { type AccessEntry, type RepositoryAction, adminAccess, catalogAccess, repositoryActions } from "./scope.ts";

/** A repository name pattern: `*` (every repository), `team/*` (every repository below `team/`), or an exact name. */
export type RepositoryPattern = string;

export interface PolicyRule {
  /** Members of any of these teams. */
  teams?: string[];
  /** These identities (users, robots, OIDC identities) by name. */
  identities?: string[];
  /** Any signed-in identity. */
  authenticated?: boolean;
  /** Anyone, signed in or anonymous. */
  everyone?: boolean;
  repositories?: RepositoryPattern[];
  actions?: (RepositoryAction | "*")[];
  /** Grants `registry:catalog:*`; the catalog lists only repositories the caller may pull. */
  catalog?: boolean;
  /** Grants `registry:admin:*`: the /admin/ endpoints (usage of every repository, garbage collection now). */
  admin?: boolean;
}

export function matchesPattern(pattern: RepositoryPattern, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export class Policy {
  private readonly rules: readonly PolicyRule[];

  /** `publicRepositories`: patterns anyone may pull, anonymous callers included. */
  constructor(rules: readonly PolicyRule[], publicRepositories: readonly RepositoryPattern[] = []) {
    const publicRule: PolicyRule = { everyone: true, repositories: [...publicRepositories], actions: ["pull"] };
    this.rules = publicRepositories.length > 0 ? [publicRule, ...rules] : [...rules];
  }

  /** The actions `identity` (null: anonymous) may take on `repository`. */
  actionsFor(identity: Identity | null, repository: string): Set<RepositoryAction> {
    const allowed = new Set<RepositoryAction>();
    for (const rule of this.rulesFor(identity)) {
      if (!rule.repositories?.some((pattern) => matchesPattern(pattern, repository))) continue;
      for (const action of expand(rule.actions ?? [])) allowed.add(action);
    }
    return allowed;
  }

  allows(identity: Identity | null, repository: string, action: RepositoryAction): boolean {
    return this.actionsFor(identity, repository).has(action);
  }

  mayListCatalog(identity: Identity | null): boolean {
    return this.rulesFor(identity).some((rule) => rule.catalog === true);
  }

  /** Never for anonymous callers, whatever a rule for `everyone` says. */
  mayAdminister(identity: Identity | null): boolean {
    return identity !== null && this.rulesFor(identity).some((rule) => rule.admin === true);
  }

  /** Whether a rule lets `identity` pull every repository (`*`): the only case an automatic mount cannot cross teams. */
  mayPullEverything(identity: Identity | null): boolean {
    return this.rulesFor(identity).some((rule) => rule.repositories?.includes("*") && expand(rule.actions ?? []).includes("pull"));
  }

  /**
   * The token's access: the intersection of what was asked and what the
   * policy allows. Asking for more is never an error (token.md); resources
   * granted nothing are left out.
   */
  grant(identity: Identity | null, requested: readonly AccessEntry[]): AccessEntry[] {
    const granted: AccessEntry[] = [];
    for (const entry of requested) {
      if (entry.type === "repository") {
        if (!isRepositoryName(entry.name)) continue;
        const allowed = this.actionsFor(identity, entry.name);
        const asked = entry.actions.includes("*") ? repositoryActions : entry.actions;
        const actions = repositoryActions.filter((action) => asked.includes(action) && allowed.has(action));
        if (actions.length > 0) granted.push({ type: "repository", name: entry.name, actions });
      } else if (entry.type === catalogAccess.type && entry.name === catalogAccess.name && entry.actions.includes("*")) {
        if (this.mayListCatalog(identity)) granted.push({ ...catalogAccess, actions: ["*"] });
      } else if (entry.type === adminAccess.type && entry.name === adminAccess.name && entry.actions.includes("*")) {
        if (this.mayAdminister(identity)) granted.push({ ...adminAccess, actions: ["*"] });
      }
    }
    return granted;
  }

  private rulesFor(identity: Identity | null): PolicyRule[] {
    return this.rules.filter((rule) => {
      if (rule.everyone) return true;
      if (!identity) return false;
      if (rule.authenticated) return true;
      if (rule.identities?.includes(identity.name)) return true;
      return rule.teams?.some((team) => identity.teams.includes(team)) ?? false;
    });
  }
}

function expand(actions: readonly (RepositoryAction | "*")[]): RepositoryAction[] {
  return actions.includes("*") ? [...repositoryActions] : (actions as RepositoryAction[]);
}
