/**
 * Serves the Worker (wrangler.toml) on 127.0.0.1 through wrangler's
 * unstable_startWorker: local R2 and Durable Objects, offline, like
 * `wrangler dev`, but built once and never reloaded, so an edit to the
 * sources while a long test runs cannot cut its requests off.
 *
 *   usage: node test/workers/start-worker.ts PORT STATE_DIR [NAME=VALUE ...]
 *
 * NAME=VALUE pairs override [vars]. WORKER_INSPECTOR_PORT, when set, opens the
 * DevTools inspector there (scripts/worker-heap.ts reads the isolate's heap
 * through it). WORKER_TEST_SCHEDULED=1 serves `GET /__scheduled?cron=…`, which
 * runs the cron handler (`wrangler dev --test-scheduled`). Prints `ready <url>`
 * once it answers; stops on SIGTERM or SIGINT.
 */
import { unstable_startWorker } from "wrangler";

const [portArg, persist, ...overrides] = process.argv.slice(2);
if (!portArg || !persist) {
  console.error("usage: node test/workers/start-worker.ts PORT STATE_DIR [NAME=VALUE ...]");
  process.exit(2);
}
const bindings = Object.fromEntries(
  overrides.map((pair) => {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`expected NAME=VALUE, not ${pair}`);
    return [pair.slice(0, at), { type: "plain_text" as const, value: pair.slice(at + 1) }];
  }),
);

const inspectorPort = process.env.WORKER_INSPECTOR_PORT;
const inspector = inspectorPort ? { hostname: "127.0.0.1", port: Number(inspectorPort) } : (false as const);
const worker = await unstable_startWorker({
  config: "wrangler.toml",
  bindings,
  dev: { server: { hostname: "127.0.0.1", port: Number(portArg) }, inspector, watch: false, persist, testScheduled: process.env.WORKER_TEST_SCHEDULED === "1" },
});
await worker.ready;
console.log(`ready ${(await worker.url).href}`);

const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
