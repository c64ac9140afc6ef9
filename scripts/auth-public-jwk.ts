/**
 * Prints the public JWKs of signing keys, for `auth.verificationKeys` of another registry or
 * for keeping a retired key's tokens valid (docs/auth.md, Keys and rotation). Reads an auth
 * section, a whole registry configuration, or `npm run auth:keygen`'s output: from the file
 * named, or stdin.
 *
 *   npm run --silent auth:public-jwk -- examples/teams/registry.json
 *   npm run --silent auth:keygen | tee key.json | npm run --silent auth:public-jwk
 */
import { readFileSync } from "node:fs";
import { importSigningKey } from "../src/auth/keys.ts";
import type { SigningKeyConfig } from "../src/auth/config.ts";

const USAGE = "usage: npm run --silent auth:public-jwk -- [FILE]   (a registry config, an auth section, or auth:keygen output; stdin without FILE)";
const [path, ...rest] = process.argv.slice(2);
if (path === "--help" || path === "-h") {
  console.log(USAGE);
  process.exit(0);
}
if (rest.length > 0) fail(`one file at most\n${USAGE}`);

let text: string;
try {
  text = path ? readFileSync(path, "utf8") : readFileSync(0, "utf8");
} catch (error) {
  fail(`${path ?? "stdin"} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
}
let parsed: unknown;
try {
  parsed = JSON.parse(text!);
} catch {
  // Never quote the text: it holds private keys.
  fail(`${path ?? "stdin"} is not valid JSON`);
}

const keys = signingKeysIn(parsed);
if (keys.length === 0) fail(`no signing keys found in ${path ?? "stdin"}: expected {"jwk": …}, {"signingKeys": […]} or {"auth": {"signingKeys": […]}}`);
const publicKeys = [];
for (const [i, key] of keys.entries()) {
  try {
    publicKeys.push((await importSigningKey(key)).publicJwk);
  } catch (error) {
    fail(`signing key ${i} cannot be imported: ${(error as Error).message}`);
  }
}
console.log(JSON.stringify({ verificationKeys: publicKeys }, null, 2));

function signingKeysIn(value: unknown): SigningKeyConfig[] {
  if (typeof value !== "object" || value === null) return [];
  const object = value as Record<string, unknown>;
  if (object.jwk || object.pem) return [object as SigningKeyConfig];
  if (Array.isArray(object.signingKeys)) return object.signingKeys as SigningKeyConfig[];
  return signingKeysIn(object.auth);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
