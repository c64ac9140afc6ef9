import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authFilePaths, credentialsFromAuthFiles, parseCredentials } from "../../src/copy/auth-files.ts";

const auth = (user: string, password: string) => ({ auth: Buffer.from(`${user}:${password}`).toString("base64") });

function files(contents: Record<string, unknown>): { dir: string; path: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), "copy-auth-"));
  for (const [name, value] of Object.entries(contents)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), typeof value === "string" ? value : JSON.stringify(value));
  }
  return { dir, path: (name) => join(dir, name) };
}

describe("copy: credentials from podman's and docker's auth files (containers-auth.json(5))", () => {
  it("reads REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR's containers/auth.json, ~/.config/containers/auth.json, then docker's config.json, in that order", () => {
    expect(authFilePaths({ REGISTRY_AUTH_FILE: "/a.json", XDG_RUNTIME_DIR: "/run/user/1" }, "/home/u")).toEqual([
      "/a.json",
      "/run/user/1/containers/auth.json",
      "/home/u/.config/containers/auth.json",
      "/home/u/.docker/config.json",
    ]);
    expect(authFilePaths({ DOCKER_CONFIG: "/etc/docker-cfg" }, "/home/u").at(-1)).toBe("/etc/docker-cfg/config.json");
  });

  it("takes the first file that has the host, and the most specific key within it", () => {
    const { path } = files({
      "podman.json": { auths: { "registry.example.com": auth("team", "team-pass"), "registry.example.com/blue": auth("blue", "blue:pass") } },
      "docker.json": { auths: { "registry.example.com": auth("docker", "x"), "127.0.0.1:8787": auth("local", "local-pass") } },
    });
    const order = [path("missing.json"), path("podman.json"), path("docker.json")];
    expect(credentialsFromAuthFiles("registry.example.com", "blue/app", order)).toEqual({ credentials: { username: "blue", password: "blue:pass" }, source: path("podman.json") });
    expect(credentialsFromAuthFiles("registry.example.com", "green/app", order).credentials).toEqual({ username: "team", password: "team-pass" });
    expect(credentialsFromAuthFiles("127.0.0.1:8787", "team/app", order).credentials).toEqual({ username: "local", password: "local-pass" });
    expect(credentialsFromAuthFiles("other.example", "team/app", order)).toEqual({ credentials: undefined, source: undefined });
  });

  it("understands docker's keys: https://index.docker.io/v1/ for Docker Hub, URLs for other hosts", () => {
    const { path } = files({ "config.json": { auths: { "https://index.docker.io/v1/": auth("hub", "hub-pass"), "http://10.0.0.5:5000": auth("lan", "lan-pass") } } });
    expect(credentialsFromAuthFiles("docker.io", "library/alpine", [path("config.json")]).credentials).toEqual({ username: "hub", password: "hub-pass" });
    expect(credentialsFromAuthFiles("10.0.0.5:5000", "x", [path("config.json")]).credentials).toEqual({ username: "lan", password: "lan-pass" });
  });

  it("says so when the host's credentials are behind a credential helper, which it does not run", () => {
    const { path } = files({ "config.json": { auths: { "registry.example.com": {} }, credsStore: "desktop" } });
    const found = credentialsFromAuthFiles("registry.example.com", "team/app", [path("config.json")]);
    expect(found.credentials).toBeUndefined();
    expect(found.source).toMatch(/credential helper .*--src-creds\/--dest-creds/);
  });

  it("refuses a file that is not JSON without quoting it (it may hold secrets)", () => {
    const { path } = files({ "broken.json": '{"auths": {"h": {"auth": "c2VjcmV0OnNlY3JldA=="' });
    expect(() => credentialsFromAuthFiles("h", "r", [path("broken.json")])).toThrow(/broken\.json is not JSON/);
    try {
      credentialsFromAuthFiles("h", "r", [path("broken.json")]);
    } catch (error) {
      expect((error as Error).message).not.toContain("c2VjcmV0");
    }
  });

  it("splits --dest-creds USER:PASSWORD at the first colon", () => {
    expect(parseCredentials("alice:pa:ss", "--dest-creds")).toEqual({ username: "alice", password: "pa:ss" });
    expect(() => parseCredentials("alice", "--dest-creds")).toThrow(/USER:PASSWORD/);
  });
});
