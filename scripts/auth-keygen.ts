/**
 * Prints a new private signing key as an `auth.signingKeys` entry (docs/auth.md),
 * its `kid` being the key's RFC 7638 thumbprint.
 *
 *   npm run --silent auth:keygen                 # ES256
 *   npm run --silent auth:keygen -- --alg EdDSA  # or ES384, RS256, PS256, …
 */
import { SIGNING_ALGORITHMS } from "../src/auth/config.ts";
import { generateSigningJwk } from "../src/auth/keys.ts";

const at = process.argv.indexOf("--alg");
const alg = at >= 0 ? process.argv[at + 1] ?? "" : "ES256";
if (!SIGNING_ALGORITHMS.includes(alg)) {
  console.error(`--alg must be one of ${SIGNING_ALGORITHMS.join(", ")}`);
  process.exit(2);
}
console.log(JSON.stringify({ jwk: await generateSigningJwk(alg) }, null, 2));
