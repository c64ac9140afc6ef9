/**
 * The registries the browser tests visit, each with token auth for the teams below:
 * npm start (test/support/node-server.ts) and the Worker served as wrangler dev serves
 * it (test/workers/start-worker.ts: local R2 and Durable Objects), both on 127.0.0.1
 * and a free port, stopped by their own pids.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { startNodeServer } from "../support/node-server.ts";

export const PASSWORDS = { alice: "alice-secret", bob: "bob-secret", olga: "olga-secret" } as const;

export interface Target {
  url: string;
  stop(): Promise<void>;
}

/** alice (blue): pull, push, delete blue/*, push public/*; bob (green): green/*; olga (ops): administrator; public/* is public. */
export async function teamsAuth(): Promise<Record<string, unknown>> {
  return {
    service: "ui-tests",
    users: {
      alice: { password: await hashPassword(PASSWORDS.alice), teams: ["blue"] },
      bob: { password: await hashPassword(PASSWORDS.bob), teams: ["green"] },
      olga: { password: await hashPassword(PASSWORDS.olga), teams: ["ops"] },
    },
    public: ["public/*"],
    rules: [
      { teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] },
      { teams: ["blue"], repositories: ["public/*"], actions: ["push"] },
      { teams: ["green"], repositories: ["green/*"], actions: ["pull", "push", "delete"] },
      { teams: ["ops"], repositories: ["*"], actions: ["pull"], admin: true },
    ],
    signingKeys: [{ jwk: await generateSigningJwk() }],
  };
}

export async function startNode(auth: Record<string, unknown>): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), "registry-ui-node-"));
  const config = join(dir, "registry.json");
  await writeFile(config, JSON.stringify({ auth }));
  const server = await startNodeServer({ REGISTRY_CONFIG: config });
  return {
    url: server.url,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startWorker(auth: Record<string, unknown>): Promise<Target> {
  const state = await mkdtemp(join(tmpdir(), "registry-ui-worker-"));
  const port = await freePort();
  // Its own process group (detached): one signal stops wrangler and workerd together.
  const child = spawn(process.execPath, ["test/workers/start-worker.ts", String(port), state, `AUTH_CONFIG=${JSON.stringify(auth)}`], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Worker did not start within 120 s:\n${output}`)), 120_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready ")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the Worker exited (${code}) before it was ready:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        process.kill(-child.pid!, "SIGTERM");
        const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 10_000);
        await once(child, "exit");
        clearTimeout(timer);
      }
      await rm(state, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
