/**
 * HTTPS on Node: the certificate chain and key named by tlsCert/tlsKey (PEM
 * files), read at start and again on every reload (SIGHUP, node-reload.ts),
 * so a renewed certificate is served without a restart. A pair that cannot be
 * read or does not match is refused and the one in use stays.
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { RegistryConfig } from "../config/schema.ts";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export class TlsError extends Error {}

/** The PEM files, checked by building a secure context from them; null when TLS is off. */
export function readTlsFiles(config: Pick<RegistryConfig, "tlsCert" | "tlsKey">): TlsFiles | null {
  if (config.tlsCert === "") return null;
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new TlsError(`${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  const files = { cert: read("tlsCert (TLS_CERT)", config.tlsCert), key: read("tlsKey (TLS_KEY)", config.tlsKey) };
  try {
    createSecureContext(files);
  } catch (error) {
    // OpenSSL's reason (e.g. "key values mismatch"); it never quotes the key.
    throw new TlsError(`tlsCert ${config.tlsCert} and tlsKey ${config.tlsKey} are not a usable PEM certificate and matching key: ${(error as Error).message}`);
  }
  return files;
}
