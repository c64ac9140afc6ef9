/** Web sessions (Auth.signIn / Auth.session, src/ui/session.ts): the same identities as the token flow, never a token for the API. */
import { describe, expect, it } from "vitest";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { buildAuth, type SignInOutcome } from "../../src/auth/service.ts";

/** `alice` is a password, or an already computed hash (the stored credential a session is stamped with). */
async function authWith(jwk: Awaited<ReturnType<typeof generateSigningJwk>>, alice: string) {
  return buildAuth({
    service: "sessions",
    users: { alice: { password: alice.startsWith("pbkdf2-") ? alice : await hashPassword(alice), teams: ["blue"] } },
    rules: [{ teams: ["blue"], repositories: ["blue/*"], actions: ["pull"] }],
    signingKeys: [{ jwk }],
  });
}

async function tokenOf(outcome: Promise<SignInOutcome>): Promise<string> {
  const result = await outcome;
  if (!result.ok) throw new Error("sign-in refused");
  return result.token;
}

describe("web sessions", () => {
  it("signs in with a user's password and carries the session's CSRF secret", async () => {
    const auth = await authWith(await generateSigningJwk(), "first-password");
    expect(await auth.signIn("alice", "wrong", "c".repeat(32))).toEqual({ ok: false });
    expect(await auth.signIn("nobody", "first-password", "c".repeat(32))).toEqual({ ok: false });
    const token = await tokenOf(auth.signIn("alice", "first-password", "c".repeat(32)));
    const session = await auth.session(token);
    expect(session?.identity.name).toBe("alice");
    expect(session?.csrf).toBe("c".repeat(32));
  });

  it("ends when the user's password changes", async () => {
    const jwk = await generateSigningJwk();
    const stored = await hashPassword("first-password");
    const token = await tokenOf((await authWith(jwk, stored)).signIn("alice", "first-password", "c".repeat(32)));
    // Another process (or isolate) with the same configuration accepts it...
    expect(await (await authWith(jwk, stored)).session(token)).not.toBeNull();
    expect(await (await authWith(jwk, "second-password")).session(token)).toBeNull();
  });

  it("is neither an access token nor accepts one", async () => {
    const auth = await authWith(await generateSigningJwk(), "first-password");
    const session = await tokenOf(auth.signIn("alice", "first-password", "c".repeat(32)));
    expect(await auth.caller(`Bearer ${session}`)).toBeNull();
    const access = await auth.exchange({ credentials: { username: "alice", password: "first-password" }, scopes: ["repository:blue/app:pull"], offline: false });
    expect(access.ok).toBe(true);
    if (access.ok) expect(await auth.session(access.body.token)).toBeNull();
  });

  it("counts failed sign-ins with the token endpoint's failed logins, so the form is no way around their limits", async () => {
    const auth = await buildAuth({
      service: "sessions",
      users: { alice: { password: await hashPassword("first-password"), teams: ["blue"] } },
      rules: [],
      signingKeys: [{ jwk: await generateSigningJwk() }],
      loginFailuresPerName: 3,
    });
    const login = (password: string, client: string) => auth.exchange({ credentials: { username: "alice", password }, scopes: [], offline: false, client });
    expect((await login("wrong", "192.0.2.1")).ok).toBe(false);
    expect(await auth.signIn("alice", "wrong", "c".repeat(32), "192.0.2.2")).toEqual({ ok: false });
    expect(await auth.signIn("alice", "wrong", "c".repeat(32), "192.0.2.3")).toEqual({ ok: false });
    // Three failures of the name, two of them through the form: from an address that failed, the right password waits too, on both paths.
    const refused = await auth.signIn("alice", "first-password", "c".repeat(32), "192.0.2.3");
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterSeconds).toBeGreaterThan(0);
    const token = await login("first-password", "192.0.2.2");
    expect(token.ok === false && token.status).toBe(429);
    // An address that never failed still gets in (login-limits.ts): the owner is not locked out.
    expect((await auth.signIn("alice", "first-password", "c".repeat(32), "192.0.2.9")).ok).toBe(true);
  });
});
