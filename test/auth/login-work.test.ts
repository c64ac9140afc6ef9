/**
 * Every failed login does the same work (issue 13, defect 10): a wrong robot token was checked with
 * one fast SHA-256 (2-3.5 ms) while a wrong password and an unknown name ran PBKDF2 (20-30 ms), so
 * the time of a failed login told which names are robots. Asserted on the work itself (the PBKDF2
 * runs and their iteration counts), not on a clock.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { type Auth, buildAuth } from "../../src/auth/service.ts";
import { PASSWORDS, ROBOT_TOKEN, teamsConfig } from "./support.ts";

describe("failed logins cost the same whichever name they use", () => {
  let auth: Auth;
  beforeAll(async () => {
    auth = await buildAuth({ ...(await teamsConfig()), signingKeys: [{ jwk: await generateSigningJwk() }] });
    // The decoy hash is made on first use: make it before counting.
    await auth.exchange({ credentials: { username: "nobody", password: "x" }, scopes: [], offline: false });
  });
  afterEach(() => vi.restoreAllMocks());

  /** The PBKDF2 iteration counts one login runs. */
  async function pbkdf2Runs(username: string, password: string): Promise<{ status: number | "ok"; iterations: number[] }> {
    const derive = vi.spyOn(crypto.subtle, "deriveBits");
    const outcome = await auth.exchange({ credentials: { username, password }, scopes: [], offline: false });
    const iterations = derive.mock.calls.map(([algorithm]) => (algorithm as Pbkdf2Params).iterations);
    derive.mockRestore();
    return { status: outcome.ok ? "ok" : outcome.status, iterations };
  }

  it("runs one PBKDF2 of the same cost for a wrong robot token, a wrong password and an unknown name", async () => {
    const robot = await pbkdf2Runs("blue-pusher", "ocirobot_wrong");
    const user = await pbkdf2Runs("alice", "wrong");
    const unknown = await pbkdf2Runs("mallory", "wrong");
    expect(robot).toEqual({ status: 401, iterations: [100_000] });
    expect(user).toEqual(robot);
    expect(unknown).toEqual(robot);
  });

  it("still lets the robot and the user in with the right secrets", async () => {
    expect((await pbkdf2Runs("blue-pusher", ROBOT_TOKEN)).status).toBe("ok");
    expect((await pbkdf2Runs("alice", PASSWORDS.alice)).status).toBe("ok");
  });
});
