/**
 * Prints a password hash for `auth.users.<name>.password` (docs/auth.md).
 *
 *   npm run --silent auth:hash-password                          # asks twice, shows nothing typed
 *   printf %s 'the password' | npm run --silent auth:hash-password
 *   npm run --silent auth:hash-password -- --iterations 600000  # Node/Lambda only: Workers allow 100000 at most
 */
import { DEFAULT_ITERATIONS, hashPassword, MAX_ITERATIONS, MIN_ITERATIONS } from "../src/auth/passwords.ts";
import { readSecret } from "./read-secret.ts";

const USAGE = `usage: npm run --silent auth:hash-password [-- --iterations N]
  Reads the password from the terminal (not shown, asked twice) or from stdin, and prints
  the PBKDF2 hash to put in auth.users.<name>.password. --iterations: ${MIN_ITERATIONS} to ${MAX_ITERATIONS}
  (default ${DEFAULT_ITERATIONS}; Workers allow 100000 at most).`;

const args = process.argv.slice(2);
let iterations = DEFAULT_ITERATIONS;
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--help" || arg === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else if (arg === "--iterations") {
    iterations = Number(args[++i]);
    if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
      console.error(`--iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
      process.exit(2);
    }
  } else {
    // A password given as an argument lands in shell history and in `ps`: refused, whatever it is.
    console.error(`unexpected argument ${arg.startsWith("-") ? JSON.stringify(arg) : "(a password as an argument would end up in your shell history)"}\n${USAGE}`);
    process.exit(2);
  }
}

const password = await readSecret("password (not shown): ", true);
if (password === "") {
  console.error("empty password: type one, or pipe it on stdin");
  process.exit(2);
}
console.log(await hashPassword(password, iterations));
