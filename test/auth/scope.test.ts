import { describe, expect, it } from "vitest";
import { covers, formatScope, parseScope, parseScopes } from "../../src/auth/scope.ts";

describe("scopes (docker-token-auth scope.md § Resource Scope Grammar)", () => {
  it("parses type, name and actions", () => {
    expect(parseScope("repository:samalba/my-app:pull,push")).toEqual({ type: "repository", name: "samalba/my-app", actions: ["pull", "push"] });
    expect(parseScope("registry:catalog:*")).toEqual({ type: "registry", name: "catalog", actions: ["*"] });
  });

  it("keeps a `:` inside the name (a registry host's port): actions follow the last `:`", () => {
    expect(parseScope("repository:localhost:5000/team/app:pull")).toEqual({ type: "repository", name: "localhost:5000/team/app", actions: ["pull"] });
  });

  it("ignores the deprecated resource class", () => {
    expect(parseScope("repository(plugin):team/app:pull")?.type).toBe("repository");
  });

  it("returns null for text that is not a scope", () => {
    for (const text of ["", "repository", "repository:app", "repository::pull", ":app:pull", "repository:app:", "Repo:app:pull", "repository:app:PULL"]) {
      expect(parseScope(text), text).toBeNull();
    }
  });

  it("splits space-separated scopes (POST) and merges repeats of one resource (GET)", () => {
    expect(parseScopes(["repository:a/b:pull repository:c:push", "repository:a/b:push,pull", "nonsense"])).toEqual([
      { type: "repository", name: "a/b", actions: ["pull", "push"] },
      { type: "repository", name: "c", actions: ["push"] },
    ]);
  });

  it("formats what it parses", () => {
    expect(formatScope(parseScope("repository:a/b:pull,push")!)).toBe("repository:a/b:pull,push");
  });

  it("treats `*` in a grant as every action, and matches names exactly (never as patterns)", () => {
    const access = [{ type: "registry", name: "catalog", actions: ["*"] }, { type: "repository", name: "blue/*", actions: ["pull"] }];
    expect(covers(access, "registry", "catalog", "*")).toBe(true);
    expect(covers(access, "repository", "blue/app", "pull")).toBe(false);
    expect(covers(access, "repository", "blue/*", "push")).toBe(false);
  });
});
