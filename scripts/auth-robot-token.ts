/**
 * Makes a robot (API) token for robot NAME: prints the token (give it to the robot, once; the
 * registry never stores it) and the `auth.robots` entry holding only its hash (docs/auth.md).
 *
 *   npm run --silent auth:robot-token -- blue-ci --team blue
 *   npm run --silent auth:robot-token -- blue-ci --json     # {"name", "token", "tokenHash"} for scripts
 */
import { NAME } from "../src/auth/config.ts";
import { newRobotToken } from "../src/auth/robot-tokens.ts";

const USAGE = `usage: npm run --silent auth:robot-token -- NAME [--team TEAM ...] [--json]
  NAME: the robot's login name (letters, digits, ".", "_", "@", "-"); it logs in with NAME as the
  username and the printed token as the password. --team: a team its rules name (repeatable).`;

const args = process.argv.slice(2);
let name: string | undefined;
const teams: string[] = [];
let json = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--help" || arg === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else if (arg === "--json") json = true;
  else if (arg === "--team") {
    const team = args[++i];
    if (!team || !NAME.test(team)) fail(`--team needs a team name, not ${JSON.stringify(team ?? "")}`);
    teams.push(team!);
  } else if (arg.startsWith("-") || name !== undefined) fail(`unexpected argument ${JSON.stringify(arg)}`);
  else name = arg;
}
if (name === undefined) fail("give the robot's name");
if (!NAME.test(name!)) fail(`${JSON.stringify(name)} is not a valid name: letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);

const { token, tokenHash } = await newRobotToken();
if (json) {
  console.log(JSON.stringify({ name, token, tokenHash, teams }, null, 2));
} else {
  console.log(`token for robot "${name}" (shown once: store it in the robot's secret store now):\n\n  ${token}\n`);
  console.log(`it logs in with username "${name}" and the token as its password, e.g.\n  printf %s "$TOKEN" | podman login -u ${name} --password-stdin <registry>\n`);
  console.log(`add this entry to "robots" in the auth configuration (only the hash; then reload or restart):\n`);
  console.log(`  ${JSON.stringify(name)}: ${JSON.stringify({ tokenHash, teams })}`);
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}
