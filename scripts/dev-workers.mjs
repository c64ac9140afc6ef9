// @ts-check
/**
 * `npm run dev:workers`: wrangler dev on 127.0.0.1, offline, on PORT (8787 when unset), or on
 * the port given as `-- --port N`, which wins. Any other argument goes to wrangler as it is.
 * wrangler runs as our child: SIGINT/SIGTERM/SIGHUP reach it, and its exit status is ours.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
/** @param {string} flag */
const given = (flag) => args.some((arg) => arg === flag || arg.startsWith(flag + "="));

if (!given("--port")) {
  const port = process.env.PORT ?? "8787";
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    console.error(`PORT=${port} is not a port number (0-65535); set PORT or pass -- --port N`);
    process.exit(2);
  }
  args.push("--port", port);
}
if (!given("--ip")) args.push("--ip", "127.0.0.1");

const wrangler = spawn(join(root, "node_modules", ".bin", "wrangler"), ["dev", ...args], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
});
/** @type {NodeJS.Signals[]} */
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of forwarded) process.on(signal, () => wrangler.kill(signal));
wrangler.on("error", (error) => {
  console.error(`could not run wrangler (${error.message}): run npm install first`);
  process.exit(2);
});
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
