/**
 * fauxqs on 127.0.0.1: an SQS-compatible server (SendMessageBatch, ReceiveMessage,
 * ChangeMessageVisibility, DeleteMessage…), in memory, for the events queue
 * (src/adapters/sqs/event-queue.ts). Started as a daemon like dynalite, through
 * ./fauxqs-server.ts, which keeps it on loopback.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitFor } from "./processes.ts";

export interface FauxqsServer {
  endpoint: string;
  pids: number[];
}

export async function startFauxqs(dir: string): Promise<FauxqsServer> {
  const port = await freePort();
  const script = fileURLToPath(new URL("./fauxqs-server.ts", import.meta.url));
  const pid = spawnDaemon(process.execPath, [script, String(port)], join(dir, "fauxqs.log"));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor("fauxqs to listen", 20_000, async () => ((await fetch(`${endpoint}/health`).catch(() => null))?.ok ? true : undefined));
  return { endpoint, pids: [pid] };
}
