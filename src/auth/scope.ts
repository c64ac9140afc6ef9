/**
 * Token scopes and access entries (docker-token-auth scope.md, jwt.md).
 * A scope is `type:name:action[,action]`; a token's `access` claim holds one
 * entry per resource. Names may contain one `:` (a registry host's port), so
 * the type ends at the first `:` and the actions start after the last.
 */
export type RepositoryAction = "pull" | "push" | "delete";

export const repositoryActions: readonly RepositoryAction[] = ["pull", "push", "delete"];

/** One entry of the JWT `access` claim (jwt.md), also the parsed form of a scope. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** `registry:catalog:*`: listing the catalog (scope.md § Resource Types). */
export const catalogAccess: AccessEntry = { type: "registry", name: "catalog", actions: ["*"] };

/** `registry:admin:*`: the operator endpoints under /admin/ (usage, garbage collection now). */
export const adminAccess: AccessEntry = { type: "registry", name: "admin", actions: ["*"] };

/** A client may ask for many scopes; more than this is not a registry client. */
export const MAX_SCOPES = 64;

const TYPE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/;
const ACTION = /^(?:[a-z]+|\*)$/;

/**
 * Parses one scope, or returns null for text that is not one. The resource
 * class (`repository(plugin)`) is deprecated and ignored (scope.md).
 */
export function parseScope(text: string): AccessEntry | null {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  const type = TYPE.exec(text.slice(0, first))?.[1];
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(",").filter((a) => a !== "");
  if (!type || name === "" || actions.length === 0 || !actions.every((a) => ACTION.test(a))) return null;
  return { type, name, actions: [...new Set(actions)] };
}

/**
 * Parses scope parameters: GET repeats `scope`, POST joins scopes with spaces
 * (scope.md § Authorization Server Use). Entries for the same resource merge;
 * text that is not a scope is skipped, since asking is never an error.
 */
export function parseScopes(values: readonly string[]): AccessEntry[] {
  const byResource = new Map<string, AccessEntry>();
  for (const value of values) {
    for (const text of value.split(/\s+/)) {
      const entry = text === "" ? null : parseScope(text);
      if (!entry) continue;
      const key = `${entry.type}:${entry.name}`;
      const known = byResource.get(key);
      if (known) known.actions = [...new Set([...known.actions, ...entry.actions])];
      else byResource.set(key, entry);
    }
  }
  return [...byResource.values()];
}

export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(",")}`;
}

/** Whether `access` allows `action` on the resource; `*` stands for every action (distribution's actionSet). */
export function covers(access: readonly AccessEntry[], type: string, name: string, action: string): boolean {
  return access.some((entry) => entry.type === type && entry.name === name && (entry.actions.includes(action) || entry.actions.includes("*")));
}

export function repositoryAccess(name: string, actions: string[]): AccessEntry {
  return { type: "repository", name, actions };
}
