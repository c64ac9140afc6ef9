#!/usr/bin/env node
// @ts-check
/**
 * The container image's HEALTHCHECK (no curl in a slim image): exits 0 when the registry in
 * this container answers GET /healthz with 200 within 4 s, 1 otherwise, with one line saying
 * what it got. Asks 127.0.0.1 on PORT (5000 by default), as the server inside listens.
 */
const url = "http://127.0.0.1:" + (process.env.PORT || "5000") + "/healthz";
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (response.status === 200) {
    console.log("healthy: " + url + " answered 200");
    process.exit(0);
  }
  console.error("unhealthy: " + url + " answered " + response.status);
} catch (error) {
  console.error("unhealthy: " + url + ": " + (error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)));
}
process.exit(1);
