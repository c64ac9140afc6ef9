#!/usr/bin/env node
// @ts-check
/**
 * The container image's HEALTHCHECK (no curl in a slim image): exits 0 when the registry in
 * this container answers GET /healthz with 200 within 4 s, 1 otherwise, with one line saying
 * what it got. Asks 127.0.0.1 on PORT (5000 by default), as the server inside listens: over
 * HTTP, and over HTTPS when HTTP fails at once (a TLS server closes a plain request) (TLS_CERT, or tlsCert in REGISTRY_CONFIG). The
 * certificate is not checked: it names the registry's public host, not 127.0.0.1, and this
 * probe asks whether the process serves, not who it is.
 */
import http from "node:http";
import https from "node:https";

const port = process.env.PORT || "5000";
const TIMED_OUT = "no answer within 4 s";

/** @returns {Promise<number>} the status GET /healthz answered */
function status(/** @type {"http" | "https"} */ scheme) {
  const client = scheme === "https" ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get({ host: "127.0.0.1", port, path: "/healthz", timeout: 4000, rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("timeout", () => request.destroy(new Error(TIMED_OUT)));
    request.on("error", reject);
  });
}

let got = "";
// One deadline for both attempts: an HTTP attempt that fails slowly must not give HTTPS
// another 4 s past HEALTHCHECK's 5 s timeout.
setTimeout(() => {
  console.error("unhealthy: " + (got ? got + "; " : "") + TIMED_OUT);
  process.exit(1);
}, 4000).unref();
for (const scheme of /** @type {const} */ (["http", "https"])) {
  const url = scheme + "://127.0.0.1:" + port + "/healthz";
  try {
    const answered = await status(scheme);
    if (answered === 200) {
      console.log("healthy: " + url + " answered 200");
      process.exit(0);
    }
    console.error("unhealthy: " + url + " answered " + answered);
    process.exit(1);
  } catch (error) {
    got += (got ? "; " : "") + url + ": " + (error instanceof Error ? error.message : String(error));
    // A server that does not answer at all is unhealthy either way; within HEALTHCHECK's 5 s.
    if (error instanceof Error && error.message === TIMED_OUT) break;
  }
}
console.error("unhealthy: " + got);
process.exit(1);
