import type { WorkersEnv } from "../../src/runtime/workers-env.ts";

/** `env` from cloudflare:test carries the bindings wrangler.toml declares. */
declare global {
  namespace Cloudflare {
    interface Env extends WorkersEnv {}
  }
}
