/**
 * fauxqs's SQS API on 127.0.0.1 only: its own `startFauxqs` (and its CLI) listen on
 * 0.0.0.0, so this builds its app and listens on loopback instead. In memory; stops on
 * SIGTERM or SIGINT.
 *
 *   usage: node test/aws/local/fauxqs-server.ts PORT
 */
import { buildApp } from "fauxqs";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1) {
  console.error("usage: node test/aws/local/fauxqs-server.ts PORT");
  process.exit(2);
}
const app = buildApp({ logger: false, defaultRegion: "us-east-1" });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs (SQS) on http://127.0.0.1:${port}`);
const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
