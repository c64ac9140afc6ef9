/**
 * A webhook receiver on 127.0.0.1 for the Workers events e2e (test/workers/events-e2e.sh):
 * records every request as one JSON line in FILE (the answer it got, the signature and
 * content type headers, the body in base64 so its exact bytes can be checked) and answers
 * with the given statuses in turn, then 200. Stops on SIGTERM or SIGINT.
 *
 *   usage: node test/workers/event-receiver.ts PORT FILE [STATUS ...]
 */
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

const [portArg, file, ...statuses] = process.argv.slice(2);
if (!portArg || !file) {
  console.error("usage: node test/workers/event-receiver.ts PORT FILE [STATUS ...]");
  process.exit(2);
}
const answers = statuses.map(Number);
let count = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    count += 1;
    const status = answers.shift() ?? 200;
    const record = {
      n: count,
      method: req.method,
      path: req.url,
      status,
      contentType: req.headers["content-type"] ?? null,
      signature: req.headers["x-registry-signature"] ?? null,
      body64: Buffer.concat(chunks).toString("base64"),
    };
    appendFileSync(file, `${JSON.stringify(record)}\n`);
    res.writeHead(status).end();
  });
});
server.listen(Number(portArg), "127.0.0.1", () => console.log(`receiver on http://127.0.0.1:${portArg}`));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
