/**
 * The token realm a challenge names, over a real socket against npm start
 * (token auth): with PUBLIC_URL it is `<PUBLIC_URL>/token` whatever Host the
 * request sends; without it (local use, documented in the README) it follows
 * the Host header, which is why a public deployment sets PUBLIC_URL.
 */
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

/** The WWW-Authenticate of GET /v2/ sent with `host`. */
function challengeFor(server: NodeServer, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path: "/v2/", headers: { host } }, (res) => {
      res.resume();
      resolve(String(res.headers["www-authenticate"]));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the challenge's realm against npm start", () => {
  const servers: NodeServer[] = [];
  afterAll(() => Promise.all(servers.map((server) => server.stop())));

  it("is <PUBLIC_URL>/token whatever the Host header says, once PUBLIC_URL is set", async () => {
    const server = await startNodeServer({ REGISTRY_CONFIG: "examples/teams/registry.json", PUBLIC_URL: "https://registry.example.com" });
    servers.push(server);
    for (const host of ["evil.example", `127.0.0.1:${server.port}`]) {
      expect(await challengeFor(server, host)).toBe('Bearer realm="https://registry.example.com/token",service="oci-registry"');
    }
  });

  it("follows the Host header without PUBLIC_URL (the documented local default)", async () => {
    const server = await startNodeServer({ REGISTRY_CONFIG: "examples/teams/registry.json" });
    servers.push(server);
    expect(await challengeFor(server, "evil.example")).toBe('Bearer realm="http://evil.example/token",service="oci-registry"');
  });
});
