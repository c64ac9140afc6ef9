/**
 * dynalite on 127.0.0.1: the DynamoDB wire protocol, in memory. Tables are
 * ACTIVE as soon as they are created (no 500 ms CREATING state), so tests can
 * make a table per case. It has no transactions; see docs/aws.md.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { freePort, spawnDaemon, waitFor } from "./processes.ts";

export interface DynaliteServer {
  endpoint: string;
  pids: number[];
}

export async function startDynalite(dir: string): Promise<DynaliteServer> {
  const port = await freePort();
  const cli = createRequire(import.meta.url).resolve("dynalite/cli.js");
  const args = [cli, "--host", "127.0.0.1", "--port", String(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"];
  const pid = spawnDaemon(process.execPath, args, join(dir, "dynalite.log"));
  const endpoint = `http://127.0.0.1:${port}`;
  // dynalite answers any POST; a 400 for a request without a target means it is up.
  await waitFor("dynalite to listen", 20_000, async () => ((await fetch(endpoint, { method: "POST" }).catch(() => null)) ? true : undefined));
  return { endpoint, pids: [pid] };
}
