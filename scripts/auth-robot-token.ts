/**
 * Makes a robot (API) token: give `token` to the robot, once; put
 * `tokenHash` in `auth.robots.<name>.tokenHash` (docs/auth.md). The
 * registry never stores the token itself.
 *
 *   npm run --silent auth:robot-token
 */
import { newRobotToken } from "../src/auth/robot-tokens.ts";

console.log(JSON.stringify(await newRobotToken(), null, 2));
