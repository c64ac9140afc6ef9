/**
 * Prints a password hash for `auth.users.<name>.password` (docs/auth.md).
 *
 *   printf %s 'the password' | npm run --silent auth:hash-password
 *   npm run --silent auth:hash-password -- 'the password'      # ends up in shell history
 *   npm run --silent auth:hash-password -- --iterations 600000  # Node/Lambda only: Workers allow 100000 at most
 */
import { DEFAULT_ITERATIONS, hashPassword, MAX_ITERATIONS, MIN_ITERATIONS } from "../src/auth/passwords.ts";

const args = process.argv.slice(2);
let iterations = DEFAULT_ITERATIONS;
const at = args.indexOf("--iterations");
if (at >= 0) {
  iterations = Number(args[at + 1]);
  args.splice(at, 2);
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    console.error(`--iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
    process.exit(2);
  }
}

let password = args[0];
if (password === undefined) {
  if (process.stdin.isTTY) console.error("type the password, then Enter and Ctrl-D:");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  password = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}
if (password === "") {
  console.error("empty password: give one on stdin or as the argument");
  process.exit(2);
}
console.log(await hashPassword(password, iterations));
