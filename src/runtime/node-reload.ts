/**
 * Reload without restart (SIGHUP): the configuration is read again
 * (REGISTRY_CONFIG, AUTH_CONFIG / AUTH_CONFIG_FILE, the environment) and, if it
 * is valid as a whole, its users, robots, rules, trusted issuers and keys, and
 * the TLS certificate, replace the ones in force. Anything wrong refuses the
 * whole reload with the reason; what was in force stays. Other settings (port,
 * dataDir, …) take effect at the next start.
 *
 * A registry started without signingKeys signs with a throwaway key; a reload
 * whose configuration still has none keeps that key, so tokens issued before
 * the reload stay valid.
 */
import type { JWK } from "jose";
import { type Auth, AuthConfigError, createAuth } from "../auth/service.ts";
import { ConfigError, type RegistryConfig } from "../config/schema.ts";
import { loadConfig } from "./node-config.ts";
import { readTlsFiles, TlsError, type TlsFiles } from "./node-tls.ts";

export interface Reloaded {
  config: RegistryConfig;
  auth?: Auth;
  tls: TlsFiles | null;
}

/** Reads and checks everything a reload would apply; throws ReloadRefused with every reason. */
export async function prepareReload(current: { auth?: Auth; tls: boolean }, ephemeralJwk?: JWK): Promise<Reloaded> {
  let config: RegistryConfig;
  try {
    config = loadConfig();
  } catch (error) {
    throw new ReloadRefused(error instanceof ConfigError ? error.message : String(error));
  }
  if (Boolean(config.auth) !== Boolean(current.auth)) {
    throw new ReloadRefused(`auth was ${current.auth ? "on" : "off"} at start and the new configuration turns it ${config.auth ? "on" : "off"}: that needs a restart`);
  }
  if ((config.tlsCert !== "") !== current.tls) throw new ReloadRefused("turning TLS on or off needs a restart");
  if (config.auth && config.auth.signingKeys.length === 0 && ephemeralJwk) config.auth = { ...config.auth, signingKeys: [{ jwk: ephemeralJwk }] };
  let auth: Auth | undefined;
  let tls: TlsFiles | null;
  try {
    auth = config.auth ? await createAuth(config.auth) : undefined;
    tls = readTlsFiles(config);
    if (auth && current.auth && (auth.service !== current.auth.service || auth.realm !== current.auth.realm)) {
      throw new ReloadRefused("auth.service and auth.realm cannot change without a restart");
    }
  } catch (error) {
    if (error instanceof AuthConfigError || error instanceof TlsError || error instanceof ReloadRefused) throw new ReloadRefused(error.message);
    throw error;
  }
  return { config, ...(auth ? { auth } : {}), tls };
}

export class ReloadRefused extends Error {
  constructor(reason: string) {
    super(`configuration reload refused, the previous configuration stays in force: ${reason}`);
    this.name = "ReloadRefused";
  }
}
