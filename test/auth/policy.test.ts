import { describe, expect, it } from "vitest";
import type { Identity } from "../../src/auth/identities.ts";
import { matchesPattern, Policy } from "../../src/auth/policy.ts";
import { parseScopes } from "../../src/auth/scope.ts";

const alice: Identity = { kind: "user", name: "alice", teams: ["blue"] };
const bob: Identity = { kind: "user", name: "bob", teams: ["green"] };
const ci: Identity = { kind: "oidc", name: "ci-app", teams: [] };
const olga: Identity = { kind: "user", name: "olga", teams: ["ops"] };

const policy = new Policy(
  [
    { teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] },
    { teams: ["blue"], repositories: ["public/*"], actions: ["push"] },
    { identities: ["ci-app"], repositories: ["blue/app"], actions: ["pull", "push"] },
    { teams: ["ops"], repositories: ["*"], actions: ["*"] },
    { authenticated: true, catalog: true },
  ],
  ["public/*"],
);

describe("repository patterns", () => {
  it("matches `*`, `<prefix>/*` at any depth, and exact names", () => {
    expect(matchesPattern("*", "any/thing")).toBe(true);
    expect(matchesPattern("blue/*", "blue/app")).toBe(true);
    expect(matchesPattern("blue/*", "blue/a/b")).toBe(true);
    expect(matchesPattern("blue/*", "blue")).toBe(false);
    expect(matchesPattern("blue/*", "bluegreen/app")).toBe(false);
    expect(matchesPattern("blue/app", "blue/app")).toBe(true);
    expect(matchesPattern("blue/app", "blue/app2")).toBe(false);
  });
});

describe("policy (token.md: the grant is the intersection of asked and allowed)", () => {
  it("grants a team what its rules allow on matching repositories", () => {
    expect(policy.grant(alice, parseScopes(["repository:blue/app:pull,push,delete"]))).toEqual([
      { type: "repository", name: "blue/app", actions: ["pull", "push", "delete"] },
    ]);
  });

  it("grants only the intersection, never an error, and leaves out resources granted nothing", () => {
    expect(policy.grant(bob, parseScopes(["repository:blue/app:pull,push", "repository:public/base:pull,push"]))).toEqual([
      { type: "repository", name: "public/base", actions: ["pull"] },
    ]);
  });

  it("combines rules: public pull plus team push", () => {
    expect(policy.grant(alice, parseScopes(["repository:public/base:pull,push,delete"]))).toEqual([
      { type: "repository", name: "public/base", actions: ["pull", "push"] },
    ]);
  });

  it("keeps delete separate from push", () => {
    expect(policy.grant(ci, parseScopes(["repository:blue/app:pull,push,delete"]))).toEqual([
      { type: "repository", name: "blue/app", actions: ["pull", "push"] },
    ]);
  });

  it("lets anonymous callers pull public repositories only", () => {
    expect(policy.grant(null, parseScopes(["repository:public/base:pull,push", "repository:blue/app:pull", "registry:catalog:*"]))).toEqual([
      { type: "repository", name: "public/base", actions: ["pull"] },
    ]);
  });

  it("expands `*` asked or allowed into the actions it stands for", () => {
    expect(policy.grant(olga, parseScopes(["repository:green/x:*"]))).toEqual([{ type: "repository", name: "green/x", actions: ["pull", "push", "delete"] }]);
    expect(policy.grant(alice, parseScopes(["repository:blue/x:*"]))).toEqual([{ type: "repository", name: "blue/x", actions: ["pull", "push", "delete"] }]);
  });

  it("grants registry:catalog:* to whom a catalog rule applies", () => {
    expect(policy.grant(bob, parseScopes(["registry:catalog:*"]))).toEqual([{ type: "registry", name: "catalog", actions: ["*"] }]);
    expect(policy.mayListCatalog(null)).toBe(false);
  });

  it("grants nothing for names that are not repository names, even under `*`", () => {
    expect(policy.grant(olga, parseScopes(["repository:Blue/App:pull", "repository:blue/*:pull", "other:thing:pull"]))).toEqual([]);
  });

  it("knows who may pull every repository (the only callers an automatic mount may serve)", () => {
    expect(policy.mayPullEverything(olga)).toBe(true);
    expect(policy.mayPullEverything(alice)).toBe(false);
    expect(policy.mayPullEverything(null)).toBe(false);
    expect(new Policy([], ["*"]).mayPullEverything(null)).toBe(true);
  });
});
