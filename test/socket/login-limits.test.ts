/**
 * Failed-login limits across the processes of one `npm start` (issue 13, defect 7): with
 * PROCESSES=2 the kernel spreads connections over both processes, and the counts live in
 * DATA_DIR's SQLite database, so the limit holds for the registry, not per process. Each login is
 * its own connection, so both processes take some.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

const PER_NAME = 4;

describe("failed-login limits against npm start with two processes", () => {
  let server: NodeServer;
  let configDir: string;

  beforeAll(async () => {
    configDir = await mkdtemp(join(tmpdir(), "registry-login-limits-"));
    const example = JSON.parse(await readFile("examples/teams/registry.json", "utf8")) as { auth: Record<string, unknown> };
    const config = join(configDir, "registry.json");
    await writeFile(config, JSON.stringify({ auth: { ...example.auth, loginFailuresPerName: PER_NAME, loginFailuresPerAddress: 100 } }));
    server = await startNodeServer({ REGISTRY_CONFIG: config, PROCESSES: "2" });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(configDir, { recursive: true, force: true });
  });

  const login = (password: string) =>
    fetch(`${server.url}/token?service=oci-registry&scope=repository:blue/app:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`alice:${password}`).toString("base64")}`, connection: "close" },
    });

  it(`answers 429 with Retry-After after ${PER_NAME} failures for a name, whichever process serves each attempt`, async () => {
    for (let i = 0; i < PER_NAME; i++) expect((await login("guess")).status).toBe(401);
    for (let i = 0; i < 4; i++) {
      const refused = await login("alice-secret");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe("TOOMANYREQUESTS");
    }
  });
});
