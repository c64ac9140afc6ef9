/**
 * Password hashes: PBKDF2-HMAC-SHA256 through WebCrypto, the one slow KDF
 * every runtime has. Stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>`,
 * salt and hash in base64url without padding.
 */
import { constantTimeEqual, fromBase64url, randomBytes, toBase64url, utf8 } from "./bytes.ts";

/**
 * Cloudflare Workers refuse PBKDF2 above 100,000 iterations (workerd#1346),
 * so that is the default; Node and Lambda deployments may choose more.
 */
export const DEFAULT_ITERATIONS = 100_000;
export const MIN_ITERATIONS = 100_000;
/** A bound on the work one login may cost. */
export const MAX_ITERATIONS = 5_000_000;

const PREFIX = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BYTES = 32;

export interface PasswordHash {
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${toBase64url(salt)}$${toBase64url(hash)}`;
}

/** Parses a stored hash; null when it is not one this module wrote (or its iteration count is out of bounds). */
export function parsePasswordHash(text: string): PasswordHash | null {
  const [prefix, count, salt64, hash64, ...rest] = text.split("$");
  if (prefix !== PREFIX || rest.length > 0 || !count || !/^\d+$/.test(count)) return null;
  const iterations = Number(count);
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) return null;
  const salt = fromBase64url(salt64 ?? "");
  const hash = fromBase64url(hash64 ?? "");
  if (!salt || salt.length < 8 || !hash || hash.length !== HASH_BYTES) return null;
  return { iterations, salt, hash };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  return constantTimeEqual(await derive(password, stored.salt, stored.iterations), stored.hash);
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", utf8(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}
