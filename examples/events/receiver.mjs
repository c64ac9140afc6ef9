// A receiver for trying the example: prints each event and whether its signature is valid.
//   EVENTS_SECRET=… node examples/events/receiver.mjs   (listens on 127.0.0.1:5080)
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const secret = process.env.EVENTS_SECRET ?? "";
createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
    const given = Buffer.from(req.headers["x-registry-signature"] ?? "");
    const valid = given.length === expected.length && timingSafeEqual(given, expected);
    for (const event of JSON.parse(body.toString("utf8")).events) {
      console.log(`${valid ? "signed" : "NOT SIGNED"} ${event.action} ${event.target.repository}${event.target.tag ? `:${event.target.tag}` : ""} ${event.target.digest ?? ""} by ${event.actor.name ?? "anonymous"}`);
    }
    res.writeHead(valid ? 200 : 401).end();
  });
}).listen(5080, "127.0.0.1", () => console.log("receiving events on http://127.0.0.1:5080/"));
