/** `npm start`'s entry point as a child process, for the spec suite over HTTP. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { freePort, waitFor } from "./processes.ts";

export interface NodeRegistry {
  url: string;
  /** What the server printed, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

export async function startNodeRegistry(env: Record<string, string>): Promise<NodeRegistry> {
  const port = await freePort();
  const child = spawn(process.execPath, ["src/runtime/node.ts"], {
    env: { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  };
  try {
    await waitFor("the Node registry to answer /v2/", 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}:\n${output}`);
      return (await fetch(`${url}/v2/`).catch(() => null))?.ok ? true : undefined;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output: () => output, stop };
}
